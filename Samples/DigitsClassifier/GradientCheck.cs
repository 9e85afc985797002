using System;
using Kernels.Training;

namespace DigitsClassifier;

/// <summary>Compares <see cref="Mlp.ForwardBackward"/>'s gradient with central finite differences of the loss.</summary>
public static class GradientCheck
{
    /// <summary>
    /// For every element of every parameter, the finite difference (L(p + h) - L(p - h)) / 2h on a few images, against
    /// the backward pass's gradient. Returns the largest difference of any element, relative to the largest gradient
    /// element of its tensor (so float rounding of tiny elements does not dominate).
    /// </summary>
    public static double WorstRelativeError(Mlp model, DigitsSet data, ReadOnlySpan<int> rows, float h = 1e-3f)
    {
        Parameter<float>[] parameters = [model.W1, model.B1, model.W2, model.B2];
        foreach (Parameter<float> p in parameters)
            p.ZeroGrad();
        model.ForwardBackward(data, rows);

        double worst = 0;
        foreach (Parameter<float> p in parameters)
        {
            Span<float> values = p.Data.Span;
            ReadOnlySpan<float> analytic = p.Grad.Span;
            double scale = 1e-6, error = 0;
            for (int i = 0; i < values.Length; i++)
            {
                float saved = values[i], plus = saved + h, minus = saved - h;
                values[i] = plus;
                double up = model.Loss(data, rows);
                values[i] = minus;
                double down = model.Loss(data, rows);
                values[i] = saved;
                double numeric = (up - down) / ((double)plus - minus);   // the step as rounded to float
                scale = Math.Max(scale, Math.Abs(analytic[i]));
                error = Math.Max(error, Math.Abs(numeric - analytic[i]));
            }
            worst = Math.Max(worst, error / scale);
        }
        return worst;
    }
}
