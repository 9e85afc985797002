using System.Reflection;

namespace Kernels.Generator.Helpers;

/// <summary>
/// The generator's name and version, as generated code records them
/// (<c>[GeneratedCode(Name, Version)]</c>). The version is the generator assembly's own, so it follows
/// <c>&lt;Version&gt;</c> in Directory.Build.props instead of a second copy kept by hand.
/// </summary>
internal static class GeneratorInfo
{
    /// <summary>The generator's name (its assembly name).</summary>
    public const string Name = "Kernels.Generator";

    /// <summary>
    /// The generator's version: the assembly's informational version without any <c>+commit</c>
    /// source-revision suffix, or else its assembly version (e.g. <c>0.1.0</c>).
    /// </summary>
    public static string Version { get; } = ReadVersion(typeof(GeneratorInfo).Assembly);

    internal static string ReadVersion(Assembly assembly)
    {
        string? informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (!string.IsNullOrWhiteSpace(informational))
        {
            int plus = informational!.IndexOf('+');
            string version = (plus >= 0 ? informational.Substring(0, plus) : informational).Trim();
            if (version.Length > 0)
                return version;
        }
        System.Version? assemblyVersion = assembly.GetName().Version;
        if (assemblyVersion is null)
            return "0.0.0";
        // AssemblyVersion always has four parts; drop a zero revision (0.1.0.0 → 0.1.0).
        return assemblyVersion.Revision == 0 ? assemblyVersion.ToString(3) : assemblyVersion.ToString();
    }
}
