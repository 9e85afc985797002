using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace Kernels.Generator.Diagnostics;

/// <summary>
/// Every diagnostic the generator reports. IDs are stable and documented in docs/Diagnostics.md:
/// KRN0001–KRN0099 declaration problems, KRN0100–KRN0199 unsupported constructs in a rule body,
/// KRN0900 internal errors. Shipped IDs are listed in AnalyzerReleases.Shipped.md, new ones in
/// AnalyzerReleases.Unshipped.md (checked at build time by the RS2000-series analyzers).
/// </summary>
/// <remarks>
/// Messages are formatted with the arguments the parser and the lowering pass, by position: the
/// comment above each descriptor gives its arguments. Never renumber or drop a <c>{n}</c> without
/// changing every call site. Where there is a fix, the message says what it is.
/// Each descriptor is created directly with a constant ID, category and severity (no factory helper), so that
/// the release-tracking analyzers can check all three against AnalyzerReleases.*.md.
/// </remarks>
internal static class DiagnosticDescriptors
{
    /// <summary>
    /// Where this repository's files are published: the root that <see cref="DiagnosticsDocumentPath"/>
    /// (and every other repository-relative path) is appended to.
    /// </summary>
    public const string DocumentationBaseUrl = "https://github.com/kernels/kernels/blob/main/";

    /// <summary>The page that documents every ID, relative to the repository root.</summary>
    public const string DiagnosticsDocumentPath = "docs/Diagnostics.md";

    private const string DeclarationCategory = "Kernels.Declaration";
    private const string BodyCategory = "Kernels.RuleBody";
    private const string InternalCategory = "Kernels.Internal";

    /// <summary>The help link of <paramref name="id"/>: its section (anchor <c>#krn0001</c>) in docs/Diagnostics.md.</summary>
    public static string HelpLink(string id) => DocumentationBaseUrl + DiagnosticsDocumentPath + "#" + id.ToLowerInvariant();

    // ---- KRN0001–KRN0099: the rule's declaration ---------------------------------------------

    // {0} the type that is not partial, {1} the rule's name.
    public static readonly DiagnosticDescriptor TypeNotPartial = new("KRN0001",
        "Type containing an update rule must be partial",
        "Type '{0}' must be declared 'partial' so the generator can add the span overload of '{1}'; add 'partial' to it and to every type enclosing it",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "The generator adds the span overload to the type that declares the rule and re-declares every type enclosing it, so all of them must be partial. Add the 'partial' modifier to each.",
        helpLinkUri: HelpLink("KRN0001"));

    // {0} the rule's name.
    public static readonly DiagnosticDescriptor RuleNotStatic = new("KRN0002",
        "Update rule must be static",
        "Update rule '{0}' must be static; add 'static' and pass any state it reads as parameters",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A rule is a pure function of its parameters; instance state cannot be read from the vectorized loop. Make the rule static and pass what it needs as parameters.",
        helpLinkUri: HelpLink("KRN0002"));

    // {0} the rule's name.
    public static readonly DiagnosticDescriptor RuleNotVoid = new("KRN0003",
        "Update rule must return void",
        "Update rule '{0}' must return void; write its results through 'ref' parameters instead of returning them",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Per-element results are the rule's ref parameters. Return void and assign each result to a 'ref' parameter.",
        helpLinkUri: HelpLink("KRN0003"));

    // {0} the parameter, {1} its modifier ("ref" or "in"), {2} its type.
    public static readonly DiagnosticDescriptor BadElementType = new("KRN0004",
        "Per-element parameter must be float or double",
        "Parameter '{0}' is passed by '{1}' and so is per-element, but its type '{2}' is not float or double; pass it by value to make it one value for the whole step, or change its type to float or double",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "ref and in parameters become spans of elements; only float and double elements are supported. Integers, flags and other step-wide values are passed by value.",
        helpLinkUri: HelpLink("KRN0004"));

    // {0} the parameter, {1} its element type, {2} the element type of the rule's first per-element parameter.
    public static readonly DiagnosticDescriptor MixedElementTypes = new("KRN0005",
        "Per-element parameters must share one element type",
        "Parameter '{0}' has element type '{1}' but the rule's first per-element parameter is '{2}'; declare every ref/in parameter as '{2}', or write a separate rule for '{1}' buffers",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "One rule runs over spans of a single element type. Use one element type for every ref and in parameter; write a second rule for the other type.",
        helpLinkUri: HelpLink("KRN0005"));

    // {0} the rule's name.
    public static readonly DiagnosticDescriptor NoRefParameter = new("KRN0006",
        "Update rule has nothing to update",
        "Update rule '{0}' has no 'ref' float or double parameter; pass the value it updates by 'ref', as in 'ref float param'",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "At least one per-element parameter must be passed by ref, or the rule has no effect. Pass each value the rule updates by 'ref'.",
        helpLinkUri: HelpLink("KRN0006"));

    // {0} the parameter, {1} its modifier ("out" or "params").
    public static readonly DiagnosticDescriptor UnsupportedParameterModifier = new("KRN0007",
        "Unsupported parameter modifier",
        "Parameter '{0}' uses '{1}', which an update rule does not support; use 'ref' for a per-element result or a plain parameter for a step-wide value",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "out and params parameters have no span form. Use 'ref' for per-element results (an out result becomes a ref buffer the rule assigns) and plain parameters for step-wide values.",
        helpLinkUri: HelpLink("KRN0007"));

    // {0} the rule's name.
    public static readonly DiagnosticDescriptor GenericRule = new("KRN0008",
        "Generic update rules are not supported",
        "Update rule '{0}' or a type containing it is generic; write one non-generic rule per element type, in a non-generic type",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "The emitted loops are specialized to a concrete element type. Write a float rule and, if needed, a double rule, each in a non-generic partial type.",
        helpLinkUri: HelpLink("KRN0008"));

    // {0} the rule's name, {1} how many per-element parameters it has, {2} the maximum.
    public static readonly DiagnosticDescriptor TooManyBuffers = new("KRN0009",
        "Too many per-element parameters",
        "Update rule '{0}' has {1} per-element parameters; at most {2} are supported, so split it into rules that each touch at most {2} buffers",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "The multi-threaded step pins at most eight buffers. Split the rule into steps that each read and write at most eight buffers.",
        helpLinkUri: HelpLink("KRN0009"));

    // {0} the type, {1} the rule name used twice.
    public static readonly DiagnosticDescriptor DuplicateRuleName = new("KRN0010",
        "Update rule name is used twice",
        "Type '{0}' declares more than one update rule named '{1}'; give each rule its own name, such as '{1}Double'",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Each rule gets a span overload and a kernel type named after it, so overloaded rules would collide. Rename all but one of them.",
        helpLinkUri: HelpLink("KRN0010"));

    // {0} the rule's name.
    public static readonly DiagnosticDescriptor MissingBody = new("KRN0011",
        "Update rule has no body",
        "Update rule '{0}' has no body; give it a body that updates one element",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A partial or extern rule has nothing to vectorize. Declare the rule with a body that describes the update of one element.",
        helpLinkUri: HelpLink("KRN0011"));

    // {0} the rule's name.
    // {1} empty when no by-value parameter has the rule's element type; otherwise a clause naming the first
    //     one, as built by NoPerElementInputArguments (pass its result as the arguments), e.g.
    //     ", including 'grad' (if it differs per element, declare it 'in float grad')".
    public static readonly DiagnosticDescriptor NoPerElementInput = new("KRN0012",
        "Update rule has no per-element input",
        "Update rule '{0}' has no 'in' parameter, so every parameter not passed by 'ref' is one value for the whole step{1}; declare each per-element input 'in' ('in float grad', not 'float grad')",
        DeclarationCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "A parameter without 'ref' or 'in' is one value for the whole step (a hyperparameter), so a gradient written 'float grad' instead of 'in float grad' silently becomes a hyperparameter. Declare per-element inputs 'in'. If the rule really reads nothing per element except its 'ref' buffers, suppress the warning for it.",
        helpLinkUri: HelpLink("KRN0012"));

    // {0} the rule's name, {1} why it gets no optimizer object.
    public static readonly DiagnosticDescriptor NoOptimizer = new("KRN0013",
        "No optimizer object is generated for this update rule",
        "Update rule '{0}' gets its span overloads but no optimizer object: {1}",
        DeclarationCategory, DiagnosticSeverity.Info, isEnabledByDefault: true,
        description: "An optimizer object (a nested Optimizer class with its Options) is generated for a rule whose first 'ref' parameter is the parameter, whose one 'in' parameter is the gradient, and whose hyperparameters can be properties. The message says which condition fails. Set [UpdateRule(GenerateOptimizer = false)] for a rule that is not a parameter update.",
        helpLinkUri: HelpLink("KRN0013"));

    // {0} the rule's name, {1} what is wrong with the attribute.
    public static readonly DiagnosticDescriptor BadOptimizerAttribute = new("KRN0014",
        "Optimizer attribute is misused",
        "Update rule '{0}': {1}",
        DeclarationCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "[StepCount], [TensorState], [InitialValue] and [Hyperparameter] tell the generated optimizer how to supply a rule's step count, per-tensor values, initial state and extra hyperparameters. The message says which use does not fit.",
        helpLinkUri: HelpLink("KRN0014"));

    /// <summary>
    /// The message arguments of <see cref="NoPerElementInput"/>: {0} the rule, {1} empty, or a clause that names
    /// <paramref name="firstUniformElementParameter"/> (the first by-value parameter of the rule's element type)
    /// and shows it declared 'in <paramref name="elementType"/> name'.
    /// </summary>
    public static string[] NoPerElementInputArguments(string ruleName, string? firstUniformElementParameter, string elementType) =>
        string.IsNullOrEmpty(firstUniformElementParameter)
            ? new[] { ruleName, "" }
            : new[] { ruleName, $", including '{firstUniformElementParameter}' (if it differs per element, declare it 'in {elementType} {firstUniformElementParameter}')" };

    // ---- KRN0100–KRN0199: constructs in the rule body --------------------------------------

    // No arguments.
    public static readonly DiagnosticDescriptor LoopOverElements = new("KRN0101",
        "Loop over per-element values",
        "This loop reads or writes per-element values, and per-element loops cannot be vectorized; compute a closed form, or move the loop into uniform code that reads only step-wide parameters",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "The generator writes the loop over elements; the rule describes one element. Loops are allowed only when they depend on uniform values alone (then they are hoisted and run once per call). Replace a per-element loop with a closed form, or compute what it computes from step-wide values.",
        helpLinkUri: HelpLink("KRN0101"));

    // No arguments.
    public static readonly DiagnosticDescriptor ReturnInRule = new("KRN0102",
        "return in an update rule",
        "'return' is not supported in an update rule; use if/else or a conditional expression so that every element runs the whole rule",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Every element runs the whole rule; early exits have no vector form. Put the rest of the rule in the else branch of an if, or select values with ?:.",
        helpLinkUri: HelpLink("KRN0102"));

    // {0} "throw" or "try".
    public static readonly DiagnosticDescriptor ExceptionInRule = new("KRN0103",
        "Exception handling in an update rule",
        "'{0}' is not supported here: vector code cannot throw or catch per element; validate step-wide values unconditionally at the top of the rule (a throw that depends only on them runs once per call), and remove try/catch/finally",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Vector code cannot throw per element. A throw is allowed only in uniform code outside any per-element condition; validate hyperparameters there or before the step. try statements are not supported.",
        helpLinkUri: HelpLink("KRN0103"));

    // {0} the method, as written or as Type.Name.
    public static readonly DiagnosticDescriptor UnknownMethod = new("KRN0104",
        "Method not supported per element",
        "'{0}' cannot be applied to per-element values; supported: + - * /, comparisons, ?:, and Math/MathF/float/double Sqrt, Abs, Max, Min, FusedMultiplyAdd, CopySign, Exp, Log, Clamp, Sign. Rewrite the call with these, call it with step-wide arguments only (it is then computed once per call), or make your own helper inlinable: a static method declared in source whose body is one return expression, without ref/out parameters or recursion.",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Only methods with a known vector form may take per-element arguments; a helper of your own is inlined when its body is a single return expression. Methods of uniform arguments only are fine: they are hoisted and run once per call.",
        helpLinkUri: HelpLink("KRN0104"));

    // No arguments.
    public static readonly DiagnosticDescriptor RefLocal = new("KRN0105",
        "ref local in an update rule",
        "ref locals and ref assignments are not supported in an update rule; copy the value into a plain local and assign the result to the 'ref' parameter",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Per-element values live in vector registers; there is nothing to take a reference to. Use plain locals and assign results to the rule's ref parameters.",
        helpLinkUri: HelpLink("KRN0105"));

    // {0} the allocating expression.
    public static readonly DiagnosticDescriptor Allocation = new("KRN0106",
        "Allocation in an update rule",
        "'{0}' allocates, and an update rule must not allocate; compute the value with arithmetic on locals, or create it once outside the rule and pass it in as a parameter",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Allocation per step (or per element) defeats a fused, memory-bound kernel. Use locals instead of arrays or objects, and build anything that must be allocated before the step.",
        helpLinkUri: HelpLink("KRN0106"));

    // {0} the operator token.
    public static readonly DiagnosticDescriptor UnsupportedOperator = new("KRN0107",
        "Operator not supported per element",
        "Operator '{0}' is not supported on per-element values; rewrite it with + - * /, unary -, comparisons, && || ! on conditions and ?:, or apply it to step-wide values only",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Supported per-element operators: + - * / unary -, comparisons, && || ! (on per-element conditions), ?:. Any operator is fine on uniform values, which are computed once per call.",
        helpLinkUri: HelpLink("KRN0107"));

    // {0} the expression, {1} its type. (The lowering also passes {2}, the element type, unused.)
    public static readonly DiagnosticDescriptor UnsupportedElementValueType = new("KRN0108",
        "Per-element value of unsupported type",
        "'{0}' depends on per-element values but has type '{1}'; per-element values must be float, double or bool, so keep the value in the rule's element type",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Per-element values are vectors of float or double, or masks. Keep per-element locals in the element type (use a bool only for a condition); integer work belongs in uniform code.",
        helpLinkUri: HelpLink("KRN0108"));

    // {0} the statement kind (a keyword such as "goto", or "local function").
    public static readonly DiagnosticDescriptor UnsupportedStatement = new("KRN0110",
        "Statement not supported in an update rule",
        "'{0}' statements are not supported in per-element code; use local declarations, assignments and if/else, or move the statement into uniform code that reads only step-wide parameters",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Supported per-element statements: local declarations, assignments (including compound and ++/--), if/else and blocks. Uniform-only statements of any kind are fine.",
        helpLinkUri: HelpLink("KRN0110"));

    // {0} the expression, or a description such as "assignment inside an expression".
    public static readonly DiagnosticDescriptor UnsupportedExpression = new("KRN0111",
        "Expression not supported per element",
        "'{0}' is not supported on per-element values; rewrite it as arithmetic, a comparison, a conditional expression or a supported math call ('g > 0', not 'g is > 0')",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Per-element expressions are arithmetic, comparisons, conditionals and known math calls. Patterns, member access on an element and assignments nested in expressions have no vector form.",
        helpLinkUri: HelpLink("KRN0111"));

    // {0} the uniform local.
    public static readonly DiagnosticDescriptor UniformReassignedAfterUse = new("KRN0112",
        "Uniform local changed after per-element use",
        "Uniform local '{0}' is assigned after per-element code has read it; step-invariant values are computed once, before the loop, so declare a new local instead",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Hoisting moves all uniform work before the element loop, so the later value would leak into the earlier use. Declare a new local for the new value.",
        helpLinkUri: HelpLink("KRN0112"));

    // {0} the expression or statement with the side effect.
    public static readonly DiagnosticDescriptor SideEffect = new("KRN0113",
        "Side effect in an update rule",
        "'{0}' has a side effect that would run once per call instead of once per element, and an update rule must be pure; remove it, or do it before or after calling the step",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Calls whose result is discarded (I/O, logging, mutation of fields) cannot be hoisted without changing how often they run. Move them out of the rule, to the code that calls the step.",
        helpLinkUri: HelpLink("KRN0113"));

    // {0} the local's name.
    public static readonly DiagnosticDescriptor DuplicateUniformLocal = new("KRN0114",
        "Uniform local name declared twice",
        "Uniform local '{0}' is declared in two places; step-invariant locals share one scope before the loop, so give them different names",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Hoisted declarations are emitted into a single scope. Rename one of the locals.",
        helpLinkUri: HelpLink("KRN0114"));

    // {0} the method's name, {1} why it cannot be inlined, completing "because …" (e.g. "it is not declared in
    // source", "its body has more than one return", "it is recursive", "it has ref/out parameters").
    public static readonly DiagnosticDescriptor UnsupportedHelper = new("KRN0116",
        "Helper method cannot be inlined per element",
        "'{0}' is called with per-element arguments but cannot be inlined because {1}; make it a static method declared in source whose body is a single return expression, without ref/out parameters or recursion, or call it with step-wide arguments only",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A static method of your own called with per-element arguments is inlined into the vectorized loop. That needs its source, a body that is one return expression, no ref/out parameters and no recursion.",
        helpLinkUri: HelpLink("KRN0116"));

    // {0} why the switch is not supported (e.g. "its governing expression depends on per-element values").
    public static readonly DiagnosticDescriptor UnsupportedSwitch = new("KRN0117",
        "switch not supported in an update rule",
        "This switch cannot be vectorized ({0}); switch only on step-wide values, or rewrite it as if/else or conditional expressions",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A switch statement or expression whose governing expression is per-element, or whose sections have a shape the generator cannot lower, has no vector form. Per-element choices are written with if/else or ?:.",
        helpLinkUri: HelpLink("KRN0117"));

    // {0} "Sum" or "Max", {1} where it stands or what it reduces, completing "Reduce.{0} cannot be used …".
    public static readonly DiagnosticDescriptor UnsupportedReduction = new("KRN0118",
        "Reduction cannot be split into passes",
        "Reduce.{0} cannot be used {1}",
        BodyCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A rule calling Kernels.Reduce runs as a reduction pass over the whole tensor, then the update pass. Each reduction must be evaluated once for every element: called in a statement at the top level of the rule (not under a condition, in an arm of ?:, on the right of && or ||, or in a helper), over values of the rule's type, with an argument that does not use another reduction's result.",
        helpLinkUri: HelpLink("KRN0118"));

    // ---- KRN0900: internal errors -----------------------------------------------------------

    // {0} the rule's name, {1} the exception type and message.
    public static readonly DiagnosticDescriptor InternalError = new("KRN0900",
        "Kernels generator internal error",
        "The Kernels generator failed on '{0}': {1}",
        InternalCategory, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "A bug in the generator; please report it with the rule that caused it. Until it is fixed, call the scalar rule directly, or rewrite the construct the rule was failing on.",
        helpLinkUri: HelpLink("KRN0900"));

    private static readonly Dictionary<string, DiagnosticDescriptor> s_byId = Build();

    private static Dictionary<string, DiagnosticDescriptor> Build()
    {
        var all = new[]
        {
            TypeNotPartial, RuleNotStatic, RuleNotVoid, BadElementType, MixedElementTypes, NoRefParameter,
            UnsupportedParameterModifier, GenericRule, TooManyBuffers, DuplicateRuleName, MissingBody, NoPerElementInput, NoOptimizer, BadOptimizerAttribute,
            LoopOverElements, ReturnInRule, ExceptionInRule, UnknownMethod, RefLocal, Allocation,
            UnsupportedOperator, UnsupportedElementValueType, UnsupportedStatement,
            UnsupportedExpression, UniformReassignedAfterUse, SideEffect, DuplicateUniformLocal,
            UnsupportedHelper, UnsupportedSwitch, UnsupportedReduction, InternalError,
        };
        var map = new Dictionary<string, DiagnosticDescriptor>();
        foreach (DiagnosticDescriptor d in all)
            map.Add(d.Id, d);
        return map;
    }

    public static IEnumerable<DiagnosticDescriptor> All => s_byId.Values;

    public static DiagnosticDescriptor ById(string id) => s_byId[id];
}
