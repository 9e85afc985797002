using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace Kernels.Generator.Diagnostics;

/// <summary>
/// Every diagnostic the generator reports. IDs are stable and documented in docs/Diagnostics.md:
/// KRN0001–KRN0099 declaration errors, KRN0100–KRN0199 unsupported constructs in a rule body,
/// KRN0900 internal errors.
/// </summary>
internal static class DiagnosticDescriptors
{
    private const string DeclarationCategory = "Kernels.Declaration";
    private const string BodyCategory = "Kernels.RuleBody";

    private static DiagnosticDescriptor Error(string id, string title, string message, string category, string description) =>
        new(id, title, message, category, DiagnosticSeverity.Error, isEnabledByDefault: true, description: description,
            helpLinkUri: "https://github.com/kernels/kernels/blob/main/docs/Diagnostics.md#" + id.ToLowerInvariant());

    public static readonly DiagnosticDescriptor TypeNotPartial = Error("KRN0001",
        "Type containing an update rule must be partial",
        "Type '{0}' must be declared 'partial' so the generator can add the span overload of '{1}'",
        DeclarationCategory,
        "The generator adds the span overload to the type that declares the rule, and to every type enclosing it; all of them must be partial.");

    public static readonly DiagnosticDescriptor RuleNotStatic = Error("KRN0002",
        "Update rule must be static",
        "Update rule '{0}' must be static",
        DeclarationCategory,
        "A rule is a pure function of its parameters; instance state cannot be read from the vectorized loop.");

    public static readonly DiagnosticDescriptor RuleNotVoid = Error("KRN0003",
        "Update rule must return void",
        "Update rule '{0}' must return void; results are written through its ref parameters",
        DeclarationCategory,
        "Per-element results are the rule's ref parameters.");

    public static readonly DiagnosticDescriptor BadElementType = Error("KRN0004",
        "Per-element parameter must be float or double",
        "Parameter '{0}' is passed by '{1}' and so is per-element, but its type '{2}' is not float or double",
        DeclarationCategory,
        "ref and in parameters become spans of elements; only float and double elements are supported.");

    public static readonly DiagnosticDescriptor MixedElementTypes = Error("KRN0005",
        "Per-element parameters must share one element type",
        "Parameter '{0}' has element type '{1}' but the rule's first per-element parameter is '{2}'",
        DeclarationCategory,
        "One rule runs over spans of a single element type.");

    public static readonly DiagnosticDescriptor NoRefParameter = Error("KRN0006",
        "Update rule has nothing to update",
        "Update rule '{0}' has no 'ref' float or double parameter",
        DeclarationCategory,
        "At least one per-element parameter must be passed by ref, or the rule has no effect.");

    public static readonly DiagnosticDescriptor UnsupportedParameterModifier = Error("KRN0007",
        "Unsupported parameter modifier",
        "Parameter '{0}' uses '{1}', which an update rule does not support",
        DeclarationCategory,
        "out and params parameters have no span form; use ref for per-element results.");

    public static readonly DiagnosticDescriptor GenericRule = Error("KRN0008",
        "Generic update rules are not supported",
        "Update rule '{0}' or a type containing it is generic",
        DeclarationCategory,
        "The emitted loops are specialized to a concrete element type.");

    public static readonly DiagnosticDescriptor TooManyBuffers = Error("KRN0009",
        "Too many per-element parameters",
        "Update rule '{0}' has {1} per-element parameters; at most {2} are supported",
        DeclarationCategory,
        "The multi-threaded step pins at most eight buffers.");

    public static readonly DiagnosticDescriptor DuplicateRuleName = Error("KRN0010",
        "Update rule name is used twice",
        "Type '{0}' declares more than one update rule named '{1}'",
        DeclarationCategory,
        "Each rule gets a span overload and a kernel type named after it.");

    public static readonly DiagnosticDescriptor MissingBody = Error("KRN0011",
        "Update rule has no body",
        "Update rule '{0}' has no body",
        DeclarationCategory,
        "A partial or extern rule has nothing to vectorize.");

    public static readonly DiagnosticDescriptor LoopOverElements = Error("KRN0101",
        "Loop over per-element values",
        "This loop reads or writes per-element values; the generator writes the loop over elements, the rule describes one element",
        BodyCategory,
        "Loops are allowed only when they depend on uniform values alone (then they are hoisted and run once per call).");

    public static readonly DiagnosticDescriptor ReturnInRule = Error("KRN0102",
        "return in an update rule",
        "'return' is not supported in an update rule; use if/else or a conditional expression",
        BodyCategory,
        "Every element runs the whole rule; early exits have no vector form.");

    public static readonly DiagnosticDescriptor ExceptionInRule = Error("KRN0103",
        "Exception handling in an update rule",
        "'{0}' is not supported in an update rule",
        BodyCategory,
        "Vector code cannot throw per element; validate hyperparameters before the step.");

    public static readonly DiagnosticDescriptor UnknownMethod = Error("KRN0104",
        "Method not supported per element",
        "'{0}' cannot be applied to per-element values; supported: + - * /, comparisons, ?:, MathF/Math Sqrt, Abs, Max, Min, FusedMultiplyAdd, CopySign, Exp, Log, Clamp, Sign",
        BodyCategory,
        "Only methods with a known vector form may take per-element arguments. Methods of uniform arguments only are fine: they are hoisted.");

    public static readonly DiagnosticDescriptor RefLocal = Error("KRN0105",
        "ref local in an update rule",
        "ref locals and ref assignments are not supported in an update rule",
        BodyCategory,
        "Per-element values live in vector registers; there is nothing to take a reference to.");

    public static readonly DiagnosticDescriptor Allocation = Error("KRN0106",
        "Allocation in an update rule",
        "'{0}' allocates; an update rule must not allocate",
        BodyCategory,
        "Allocation per step (or per element) defeats a fused, memory-bound kernel.");

    public static readonly DiagnosticDescriptor UnsupportedOperator = Error("KRN0107",
        "Operator not supported per element",
        "Operator '{0}' is not supported on per-element values",
        BodyCategory,
        "Supported per-element operators: + - * / unary -, comparisons, && || ! (on per-element conditions), ?:.");

    public static readonly DiagnosticDescriptor UnsupportedElementValueType = Error("KRN0108",
        "Per-element value of unsupported type",
        "'{0}' depends on per-element values but has type '{1}'; per-element values must be float, double or bool",
        BodyCategory,
        "Per-element values are vectors of float or double, or masks.");

    public static readonly DiagnosticDescriptor UnsupportedStatement = Error("KRN0110",
        "Statement not supported in an update rule",
        "'{0}' statements are not supported in an update rule",
        BodyCategory,
        "Supported: local declarations, assignments (including compound and ++/--), if/else and blocks; uniform-only statements of any kind.");

    public static readonly DiagnosticDescriptor UnsupportedExpression = Error("KRN0111",
        "Expression not supported per element",
        "'{0}' is not supported on per-element values",
        BodyCategory,
        "Per-element expressions are arithmetic, comparisons, conditionals and known math calls.");

    public static readonly DiagnosticDescriptor UniformReassignedAfterUse = Error("KRN0112",
        "Uniform local changed after per-element use",
        "Uniform local '{0}' is assigned after per-element code has read it; step-invariant values are computed once, before the loop, so declare a new local instead",
        BodyCategory,
        "Hoisting moves all uniform work before the element loop.");

    public static readonly DiagnosticDescriptor SideEffect = Error("KRN0113",
        "Side effect in an update rule",
        "'{0}' has a side effect that would run once per call instead of once per element; an update rule must be pure",
        BodyCategory,
        "Calls whose result is discarded (I/O, logging, mutation of fields) cannot be hoisted without changing how often they run.");

    public static readonly DiagnosticDescriptor DuplicateUniformLocal = Error("KRN0114",
        "Uniform local name declared twice",
        "Uniform local '{0}' is declared in two places; step-invariant locals share one scope before the loop, so give them different names",
        BodyCategory,
        "Hoisted declarations are emitted into a single scope.");

    public static readonly DiagnosticDescriptor NoPerElementInput = new("KRN0012",
        "Update rule has no per-element input",
        "Update rule '{0}' has no 'in' parameter{1}; every parameter without 'ref' or 'in' is one value for the whole step",
        DeclarationCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "A gradient written 'float grad' instead of 'in float grad' silently becomes a hyperparameter.",
        helpLinkUri: "https://github.com/kernels/kernels/blob/main/docs/Diagnostics.md#krn0012");

    public static readonly DiagnosticDescriptor MayThrowUnderElementCondition = Error("KRN0115",
        "Step-invariant code that may throw under a per-element condition",
        "'{0}' is step-invariant and may throw ({1}), but the rule evaluates it only for elements that meet a per-element condition; compute it before the condition",
        BodyCategory,
        "Step-invariant values are computed once, before any element; code that may throw cannot move there from under a per-element condition.");

    public static readonly DiagnosticDescriptor UnsupportedSwitch = Error("KRN0117",
        "Unsupported switch in an update rule",
        "This switch cannot be generated: {0}",
        BodyCategory,
        "A switch on a step-invariant value becomes a chain of uniform branches; its sections must end with 'break'.");

    public static readonly DiagnosticDescriptor InternalError = new("KRN0900",
        "Kernels generator internal error",
        "The Kernels generator failed on '{0}': {1}",
        "Kernels.Internal", DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A bug in the generator; please report it with the rule that caused it.");

    private static readonly Dictionary<string, DiagnosticDescriptor> s_byId = Build();

    private static Dictionary<string, DiagnosticDescriptor> Build()
    {
        var all = new[]
        {
            TypeNotPartial, RuleNotStatic, RuleNotVoid, BadElementType, MixedElementTypes, NoRefParameter,
            UnsupportedParameterModifier, GenericRule, TooManyBuffers, DuplicateRuleName, MissingBody,
            LoopOverElements, ReturnInRule, ExceptionInRule, UnknownMethod, RefLocal, Allocation,
            UnsupportedOperator, UnsupportedElementValueType, UnsupportedStatement,
            UnsupportedExpression, UniformReassignedAfterUse, SideEffect, DuplicateUniformLocal, InternalError,
            NoPerElementInput, MayThrowUnderElementCondition, UnsupportedSwitch,
        };
        var map = new Dictionary<string, DiagnosticDescriptor>();
        foreach (DiagnosticDescriptor d in all)
            map.Add(d.Id, d);
        return map;
    }

    public static IEnumerable<DiagnosticDescriptor> All => s_byId.Values;

    public static DiagnosticDescriptor ById(string id) => s_byId[id];
}
