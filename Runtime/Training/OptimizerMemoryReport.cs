using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Kernels.Training;

/// <summary>What one parameter costs in memory: its values and the optimizer state allocated for it so far.</summary>
/// <param name="Name">The parameter's name.</param>
/// <param name="Elements">Its element count.</param>
/// <param name="ValueBytes">Bytes of its values.</param>
/// <param name="StateBytes">Bytes of its allocated state buffers (8-bit ones: codes and block scales); state is allocated at the first step.</param>
/// <param name="Storage">How its state is stored.</param>
public sealed record ParameterMemory(string Name, long Elements, long ValueBytes, long StateBytes, StateStorage Storage)
{
    /// <summary>State bytes per element.</summary>
    public double StateBytesPerElement => Elements == 0 ? 0 : (double)StateBytes / Elements;
}

/// <summary>An optimizer's memory, per parameter and in total (<see cref="Optimizer.MemoryReport"/>).</summary>
/// <param name="Parameters">One row per parameter, in index order.</param>
public sealed record OptimizerMemoryReport(IReadOnlyList<ParameterMemory> Parameters)
{
    /// <summary>Elements of every parameter.</summary>
    public long Elements => Parameters.Sum(p => p.Elements);

    /// <summary>Bytes of every parameter's values.</summary>
    public long ValueBytes => Parameters.Sum(p => p.ValueBytes);

    /// <summary>Bytes of every allocated state buffer.</summary>
    public long StateBytes => Parameters.Sum(p => p.StateBytes);

    /// <summary>State bytes per parameter element over the whole model.</summary>
    public double StateBytesPerElement => Elements == 0 ? 0 : (double)StateBytes / Elements;

    /// <summary>A plain-text table: a row per parameter and the total.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        int width = System.Math.Max(9, Parameters.Count == 0 ? 0 : Parameters.Max(p => p.Name.Length));
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"parameter".PadRight(width)}  {"elements",12}  {"state bytes",12}  {"B/elem",6}  storage");
        foreach (ParameterMemory p in Parameters)
            sb.AppendLine(CultureInfo.InvariantCulture, $"{p.Name.PadRight(width)}  {p.Elements,12}  {p.StateBytes,12}  {p.StateBytesPerElement,6:F3}  {p.Storage}");
        sb.Append(CultureInfo.InvariantCulture, $"{"total".PadRight(width)}  {Elements,12}  {StateBytes,12}  {StateBytesPerElement,6:F3}");
        return sb.ToString();
    }
}
