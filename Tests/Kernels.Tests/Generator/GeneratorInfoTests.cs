using System.IO;
using System.Linq;
using System.Xml.Linq;
using Kernels.Generator;
using Kernels.Generator.Helpers;
using Xunit;

namespace Kernels.Tests.Generator;

/// <summary>The name and version generated code records, read from the generator assembly.</summary>
public class GeneratorInfoTests
{
    [Fact]
    public void VersionIsTheVersionInDirectoryBuildProps()
    {
        XDocument props = XDocument.Load(Path.Combine(GeneratorHarness.RepositoryRoot(), "Directory.Build.props"));
        string expected = props.Descendants("Version").Single().Value.Trim();
        Assert.Equal("0.1.0", expected);
        Assert.Equal(expected, GeneratorInfo.Version);
    }

    [Fact]
    public void VersionHasNoSourceRevisionSuffix() => Assert.DoesNotContain("+", GeneratorInfo.Version);

    [Fact]
    public void NameIsTheGeneratorAssemblyName() =>
        Assert.Equal(GeneratorInfo.Name, typeof(UpdateRuleGenerator).Assembly.GetName().Name);
}
