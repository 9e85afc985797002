namespace Kernels.Generator.Model;

/// <summary>
/// The scalar types of the kernel plan. A buffer has a storage type (what its memory holds) and a compute type
/// (what the rule computes in); in the model both are the rule's float or double. bf16/fp16 storage is chosen per call
/// instead, by the storage overloads' type arguments (<c>RuleEmitter.Storage.cs</c>, loads and stores through
/// <c>Kernels.CompilerServices.Storage</c>); this seam remains for storage a rule would fix in its declaration (8-bit
/// blockwise state): a load converts storage → compute, a store compute → storage.
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
