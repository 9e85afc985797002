using Kernels.Generator.Helpers;

namespace Kernels.Generator.Model;

/// <summary>A per-element statement of the lowered rule. <see cref="Source"/> is the rule's own text, written as a comment above the emitted form.</summary>
internal abstract record ElementStmt(string Source);

/// <summary><c>target = value</c>; <see cref="Declares"/> when it is the declaration of a per-element local.</summary>
internal sealed record AssignStmt(string Target, bool Declares, ValueKind Kind, ElementExpr Value, string Source) : ElementStmt(Source);

/// <summary>A per-element local declared without an initializer.</summary>
internal sealed record DeclareStmt(string Name, ValueKind Kind, string Source) : ElementStmt(Source);

/// <summary>An <c>if</c> on a hoisted bool: a real branch, taken once per vector block and never per element.</summary>
internal sealed record UniformIfStmt(string Condition, EquatableArray<ElementStmt> Then, EquatableArray<ElementStmt> Else, string Source) : ElementStmt(Source);

/// <summary>An <c>if</c> on a per-element condition: both arms are computed and merged with selects.</summary>
internal sealed record ElementIfStmt(ElementExpr Condition, EquatableArray<ElementStmt> Then, EquatableArray<ElementStmt> Else, string Source) : ElementStmt(Source);
