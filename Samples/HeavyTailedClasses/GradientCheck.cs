using System;
using Kernels.Training;

namespace HeavyTailedClasses;

/// <summary>Compares <see cref="SoftmaxRegression.ForwardBackward"/>'s gradient with central finite differences of the loss.</summary>
public static class GradientCheck
{
    /// <summary>
    /// On a small model (so that every element can be checked: the backward pass is the same code at any size) with
    /// random weights, inputs and labels: for every weight and bias, (L(p + h) - L(p - h)) / 2h against the backward
    /// pass's gradient. Returns the largest difference, relative to the largest gradient element of its tensor (so
    /// float rounding of tiny elements does not dominate).
    /// </summary>
    public static double WorstRelativeError(int features = 6, int classes = 9, int batch = 5, int seed = 7, float h = 1e-3f)
    {
        var random = new Random(seed);
        var model = new SoftmaxRegression(features, classes);
        float[] inputs = new float[batch * features];
        int[] labels = new int[batch];
        Fill(inputs);
        Fill(model.Weight.Data.Span);
        Fill(model.Bias.Data.Span);
        for (int i = 0; i < batch; i++)
            labels[i] = random.Next(classes);

        Parameter<float>[] parameters = [model.Weight, model.Bias];
        foreach (Parameter<float> p in parameters)
            p.ZeroGrad();
        model.ForwardBackward(inputs, labels);

        double[] losses = new double[batch];
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
                double up = MeanLoss();
                values[i] = minus;
                double down = MeanLoss();
                values[i] = saved;
                double numeric = (up - down) / ((double)plus - minus);   // the step as rounded to float
                scale = Math.Max(scale, Math.Abs(analytic[i]));
                error = Math.Max(error, Math.Abs(numeric - analytic[i]));
            }
            worst = Math.Max(worst, error / scale);
        }
        return worst;

        double MeanLoss()
        {
            model.Losses(inputs, labels, losses);
            double sum = 0;
            foreach (double l in losses)
                sum += l;
            return sum / batch;
        }

        void Fill(Span<float> values)
        {
            for (int i = 0; i < values.Length; i++)
                values[i] = (float)(2 * random.NextDouble() - 1);
        }
    }
}
