using System.Text;

namespace Kernels.Generator.Emitters;

/// <summary>A text writer that keeps track of indentation, so emitters read as the code they write.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _builder = new();

    public int Indentation { get; set; }

    public SourceWriter Line(string text = "")
    {
        if (text.Length == 0)
        {
            _builder.Append('\n');
            return this;
        }
        foreach (string line in text.Split('\n'))
        {
            _builder.Append(' ', Indentation * 4);
            _builder.Append(line.TrimEnd('\r'));
            _builder.Append('\n');
        }
        return this;
    }

    public SourceWriter Open(string header)
    {
        Line(header);
        Line("{");
        Indentation++;
        return this;
    }

    public SourceWriter Close(string suffix = "")
    {
        Indentation--;
        Line("}" + suffix);
        return this;
    }

    public override string ToString() => _builder.ToString();
}
