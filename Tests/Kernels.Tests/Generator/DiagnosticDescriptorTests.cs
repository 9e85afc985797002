using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using Kernels.Generator.Diagnostics;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Kernels.Tests.Generator;

/// <summary>
/// The descriptors themselves, against docs/Diagnostics.md and the analyzer release files: every ID has a
/// section whose anchor its help link points at, with the severity and category the code has; IDs are
/// unique, registered and inside the range the docs give their category.
/// </summary>
public class DiagnosticDescriptorTests
{
    private static readonly string s_docPath = Path.Combine(GeneratorHarness.RepositoryRoot(), "docs", "Diagnostics.md");

    /// <summary>Every <c>public static readonly DiagnosticDescriptor</c> field, whether registered or not.</summary>
    private static IReadOnlyList<DiagnosticDescriptor> Declared() =>
        typeof(DiagnosticDescriptors).GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .ToList();

    public static TheoryData<string> Ids()
    {
        var data = new TheoryData<string>();
        foreach (DiagnosticDescriptor d in Declared().OrderBy(d => d.Id, StringComparer.Ordinal))
            data.Add(d.Id);
        return data;
    }

    /// <summary>The "## KRN0001" sections of the docs, by ID, each without its heading line.</summary>
    private static Dictionary<string, string> Sections(string doc)
    {
        var sections = new Dictionary<string, string>();
        MatchCollection headings = Regex.Matches(doc, @"^## (KRN\d{4})[ \t]*\r?$", RegexOptions.Multiline);
        for (int i = 0; i < headings.Count; i++)
        {
            int start = headings[i].Index + headings[i].Length;
            int end = doc.IndexOf("\n## ", start, StringComparison.Ordinal);
            string id = headings[i].Groups[1].Value;
            Assert.False(sections.ContainsKey(id), $"docs/Diagnostics.md has two sections for {id}");
            sections[id] = doc.Substring(start, (end < 0 ? doc.Length : end) - start);
        }
        return sections;
    }

    /// <summary>The anchors a Markdown page has on GitHub: one per heading (its slug) and any explicit <c>&lt;a id/name&gt;</c>.</summary>
    private static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var counts = new Dictionary<string, int>();
        foreach (Match heading in Regex.Matches(markdown, @"^#{1,6}[ \t]+(.+?)[ \t#]*\r?$", RegexOptions.Multiline))
        {
            string slug = Regex.Replace(heading.Groups[1].Value.Trim().ToLowerInvariant(), @"[^\p{L}\p{Nd}\s_-]", "").Replace(' ', '-');
            // GitHub numbers repeated headings: slug, slug-1, slug-2, ...
            counts[slug] = counts.TryGetValue(slug, out int n) ? n + 1 : 0;
            anchors.Add(counts[slug] == 0 ? slug : slug + "-" + counts[slug].ToString(CultureInfo.InvariantCulture));
        }
        foreach (Match explicitAnchor in Regex.Matches(markdown, @"<a\s+(?:id|name)=""([^""]+)"""))
            anchors.Add(explicitAnchor.Groups[1].Value);
        return anchors;
    }

    [Fact]
    public void EveryDescriptorIsRegisteredOnceWithAUniqueId()
    {
        IReadOnlyList<DiagnosticDescriptor> declared = Declared();
        Assert.Equal(declared.Count, declared.Select(d => d.Id).Distinct(StringComparer.Ordinal).Count());
        // ById (used to turn every reported DiagnosticInfo back into a Diagnostic) must know each one.
        Assert.Equal(declared.Select(d => d.Id).OrderBy(x => x, StringComparer.Ordinal),
            DiagnosticDescriptors.All.Select(d => d.Id).OrderBy(x => x, StringComparer.Ordinal));
        foreach (DiagnosticDescriptor d in declared)
            Assert.Same(d, DiagnosticDescriptors.ById(d.Id));
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void EveryDiagnosticIdIsDocumented(string id)
    {
        Dictionary<string, string> sections = Sections(File.ReadAllText(s_docPath));
        Assert.True(sections.ContainsKey(id), $"docs/Diagnostics.md has no '## {id}' section");
        string section = sections[id];
        Assert.Contains("**Trigger:**", section);
        Assert.Contains("**Fix:**", section);
    }

    [Fact]
    public void EveryDocumentedIdHasADescriptor()
    {
        var ids = new HashSet<string>(Declared().Select(d => d.Id));
        foreach (string documented in Sections(File.ReadAllText(s_docPath)).Keys)
            Assert.True(ids.Contains(documented), $"docs/Diagnostics.md documents {documented}, which no descriptor has");
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void HelpLinkResolvesToAnAnchorInTheDocs(string id)
    {
        DiagnosticDescriptor descriptor = DiagnosticDescriptors.ById(id);
        string link = descriptor.HelpLinkUri;
        Assert.Equal(DiagnosticDescriptors.HelpLink(id), link);
        Assert.StartsWith(DiagnosticDescriptors.DocumentationBaseUrl, link, StringComparison.Ordinal);

        // The rest of the link is a path in this repository and an anchor on that page.
        string[] parts = link.Substring(DiagnosticDescriptors.DocumentationBaseUrl.Length).Split('#');
        Assert.Equal(2, parts.Length);
        Assert.Equal(DiagnosticDescriptors.DiagnosticsDocumentPath, parts[0]);
        string page = Path.Combine(GeneratorHarness.RepositoryRoot(), parts[0].Replace('/', Path.DirectorySeparatorChar));
        Assert.True(File.Exists(page), $"{link} points at {parts[0]}, which is not in the repository");
        HashSet<string> anchors = Anchors(File.ReadAllText(page));
        Assert.True(anchors.Contains(parts[1]), $"{link}: no anchor '{parts[1]}' in {parts[0]}");
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void SeverityAndCategoryAreAsDocumented(string id)
    {
        DiagnosticDescriptor descriptor = DiagnosticDescriptors.ById(id);
        string section = Sections(File.ReadAllText(s_docPath))[id];
        string header = section.TrimStart().Split('\n')[0].Trim();
        Assert.Equal($"**{descriptor.DefaultSeverity}** · {descriptor.Category} · {descriptor.Title}", header);
        Assert.True(descriptor.IsEnabledByDefault);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void IdIsInTheDocumentedRangeOfItsCategory(string id)
    {
        DiagnosticDescriptor descriptor = DiagnosticDescriptors.ById(id);
        Assert.Matches(@"^KRN\d{4}$", id);
        int number = int.Parse(id.Substring(3), CultureInfo.InvariantCulture);

        // | KRN0001–KRN0099 | Kernels.Declaration | The rule's declaration |
        var ranges = Regex.Matches(File.ReadAllText(s_docPath), @"^\| KRN(\d{4})[–-]KRN(\d{4}) \| ([\w.]+) \|", RegexOptions.Multiline)
            .Select(m => (From: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), To: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), Category: m.Groups[3].Value))
            .ToList();
        Assert.NotEmpty(ranges);
        Assert.Contains(ranges, r => r.From <= number && number <= r.To && r.Category == descriptor.Category);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void DescriptorHasTitleMessageAndDescription(string id)
    {
        DiagnosticDescriptor descriptor = DiagnosticDescriptors.ById(id);
        Assert.False(string.IsNullOrWhiteSpace(descriptor.Title.ToString(CultureInfo.InvariantCulture)));
        Assert.False(string.IsNullOrWhiteSpace(descriptor.MessageFormat.ToString(CultureInfo.InvariantCulture)));
        string description = descriptor.Description.ToString(CultureInfo.InvariantCulture);
        Assert.False(string.IsNullOrWhiteSpace(description), $"{id} has no description");
        Assert.EndsWith(".", description);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void IdIsTrackedInExactlyOneAnalyzerRelease(string id)
    {
        // The RS2000-series analyzers check this at build time; this keeps it checked if they are ever silenced.
        DiagnosticDescriptor descriptor = DiagnosticDescriptors.ById(id);
        string generator = Path.Combine(GeneratorHarness.RepositoryRoot(), "Generator");
        string expected = $"{id} | {descriptor.Category} | {descriptor.DefaultSeverity} |";
        int rows = 0;
        foreach (string file in new[] { "AnalyzerReleases.Shipped.md", "AnalyzerReleases.Unshipped.md" })
        {
            foreach (string line in File.ReadAllLines(Path.Combine(generator, file)).Where(l => l.StartsWith(id + " ", StringComparison.Ordinal)))
            {
                Assert.StartsWith(expected, line, StringComparison.Ordinal);
                rows++;
            }
        }
        Assert.Equal(1, rows);
    }

    [Fact]
    public void NoPerElementInputMessageReadsWellWithAndWithoutAParameter()
    {
        DiagnosticDescriptor descriptor = DiagnosticDescriptors.NoPerElementInput;

        string without = Diagnostic.Create(descriptor, Location.None, DiagnosticDescriptors.NoPerElementInputArguments("Step", null, "float"))
            .GetMessage(CultureInfo.InvariantCulture);
        Assert.Equal(
            "Update rule 'Step' has no 'in' parameter, so every parameter not passed by 'ref' is one value for the whole step; declare each per-element input 'in' ('in float grad', not 'float grad')",
            without);

        string with = Diagnostic.Create(descriptor, Location.None, DiagnosticDescriptors.NoPerElementInputArguments("Step", "g", "float"))
            .GetMessage(CultureInfo.InvariantCulture);
        Assert.Equal(
            "Update rule 'Step' has no 'in' parameter, so every parameter not passed by 'ref' is one value for the whole step, including 'g' (if it differs per element, declare it 'in float g'); declare each per-element input 'in' ('in float grad', not 'float grad')",
            with);
        Assert.Equal(DiagnosticDescriptors.NoPerElementInputArguments("Step", "", "float"), DiagnosticDescriptors.NoPerElementInputArguments("Step", null, "float"));
    }
}
