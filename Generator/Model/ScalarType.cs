namespace Kernels.Generator.Model;

/// <summary>
/// The scalar types of the kernel plan. A buffer has a storage type (what its memory holds) and a compute type
/// (what the rule computes in); today both are the rule's float or double, and the seam is where bf16/fp16
/// storage and 8-bit blockwise state plug in: a load converts storage → compute, a store compute → storage.
/// </summary>
internal enum ScalarType
{
    Float32,
    Float64,
    Bool,
}

internal static class ScalarTypes
{
    /// <summary>The C# keyword of the type.</summary>
    public static string Keyword(this ScalarType type) => type switch
    {
        ScalarType.Float32 => "float",
        ScalarType.Float64 => "double",
        _ => "bool",
    };

    public static ScalarType FromKeyword(string keyword) => keyword switch
    {
        "float" => ScalarType.Float32,
        "double" => ScalarType.Float64,
        _ => ScalarType.Bool,
    };
}
