using System.Collections.Generic;
using System.Globalization;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// Writes the lowered rule body for one element (scalar) or one vector of elements. Per-element
/// <c>if</c>s become masks in vector form: both arms run, and each assignment keeps the old value in
/// lanes where its condition is false (exact, since per-element arithmetic has no side effects).
/// </summary>
internal sealed class BodyEmitter
{
    private readonly SourceWriter _writer;
    private readonly ExpressionPrinter _printer;
    private readonly string? _vector;
    private readonly string _element;
    private readonly System.Func<string, string> _maskName;
    private readonly string? _lanes;
    private int _maskCount;

    /// <param name="maskName">Turns a mask's base name (<c>maskThen1</c>) into a name that collides with nothing of the rule's.</param>
    /// <param name="lanes">The lanes that hold elements, when not all do (the padding of a mixed float/double rule's float vectors).</param>
    public BodyEmitter(SourceWriter writer, string? vector, string element, System.Func<string, string> maskName,
        System.Func<string, string>? condition = null, System.Func<string, string>? uniformMask = null, string? lanes = null)
    {
        _writer = writer;
        _vector = vector;
        _element = element;
        _lanes = lanes;
        _printer = new ExpressionPrinter(vector, element, condition, uniformMask, lanes);
        _maskName = maskName;
    }

    private bool IsVector => _vector is not null;

    public void Emit(IEnumerable<ElementStmt> statements) => Emit(statements, mask: null);

    private void Emit(IEnumerable<ElementStmt> statements, string? mask)
    {
        foreach (ElementStmt statement in statements)
            Emit(statement, mask);
    }

    private void Emit(ElementStmt statement, string? mask)
    {
        switch (statement)
        {
            case AssignStmt a:
            {
                _writer.Line("// " + a.Source);
                string value = _printer.Print(a.Value, mask);
                if (a.Declares)
                    _writer.Line($"{TypeOf(a.Kind)} {a.Target} = {value};");
                else if (mask is not null && IsVector)
                {
                    // Masks are kept over the rule's lanes; a value of the other floating type needs the mask over its lanes.
                    string laneMask = a.Kind.IsOther() ? _printer.Convert(mask, ValueKind.Mask, ValueKind.OtherMask) : mask;
                    _writer.Line($"{a.Target} = global::System.Runtime.Intrinsics.{_vector}.ConditionalSelect({laneMask}, {value}, {a.Target});");
                }
                else
                    _writer.Line($"{a.Target} = {value};");
                break;
            }

            case DeclareStmt d:
                _writer.Line("// " + d.Source);
                _writer.Line($"{TypeOf(d.Kind)} {d.Name} = default;");
                break;

            case UniformIfStmt u:
                _writer.Line("// " + u.Source + "  (step-invariant: decided once per call, not per element)");
                EmitBranch(_printer.Condition(u.Condition), u.Then, u.Else, mask);
                break;

            case ElementIfStmt e when IsVector:
            {
                _writer.Line("// " + e.Source + "  (per element: both arms, merged by mask)");
                string id = (++_maskCount).ToString(CultureInfo.InvariantCulture);
                string thenMask = _maskName("maskThen" + id);
                string condition = _printer.Print(e.Condition, mask);
                string? outer = mask ?? _lanes;
                _writer.Line($"var {thenMask} = {(outer is null ? condition : $"{outer} & ({condition})")};");
                Emit(e.Then, thenMask);
                if (e.Else.Count > 0)
                {
                    string elseMask = _maskName("maskElse" + id);
                    _writer.Line($"var {elseMask} = {(outer is null ? "~" + thenMask : $"global::System.Runtime.Intrinsics.{_vector}.AndNot({outer}, {thenMask})")};");
                    Emit(e.Else, elseMask);
                }
                break;
            }

            case ElementIfStmt e:
                _writer.Line("// " + e.Source);
                EmitBranch(_printer.Print(e.Condition), e.Then, e.Else, mask);
                break;
        }
    }

    /// <summary>A real <c>if</c>/<c>else</c>: uniform conditions everywhere, per-element ones in scalar code.</summary>
    private void EmitBranch(string condition, Helpers.EquatableArray<ElementStmt> then, Helpers.EquatableArray<ElementStmt> otherwise, string? mask)
    {
        _writer.Open($"if ({condition})");
        Emit(then, mask);
        _writer.Close();
        if (otherwise.Count > 0)
        {
            _writer.Open("else");
            Emit(otherwise, mask);
            _writer.Close();
        }
    }

    private string TypeOf(ValueKind kind)
    {
        if (IsVector)
            return $"global::System.Runtime.Intrinsics.{_vector}<{kind.ElementTypeOf(_element)}>";
        return kind.IsMask() ? "bool" : kind.ElementTypeOf(_element);
    }
}
