using System;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>
/// PyTorch's <c>CosineAnnealingWarmRestarts</c> (SGDR): anneals each group's value from its base to <see cref="EtaMin"/>
/// along half a cosine over <see cref="T0"/> epochs, then restarts at the base, each period <see cref="TMult"/> times
/// longer than the last: <c>eta_min + (base - eta_min)(1 + cos(π T_cur / T_i)) / 2</c>.
/// </summary>
/// <remarks>
/// PyTorch computes this one in closed form from <c>T_cur</c> (the epochs since the last restart) and <c>T_i</c> (the
/// current period), and so does this class. <see cref="Step(double)"/> sets a fractional epoch, as PyTorch's
/// <c>step(epoch)</c> does (<c>scheduler.step(epoch + i / iters)</c> within an epoch).
/// </remarks>
public sealed class CosineAnnealingWarmRestarts : LRScheduler
{
    /// <summary>Restarts after <paramref name="t0"/> epochs, then after periods <paramref name="tMult"/> times longer each.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="t0">The number of epochs until the first restart (at least 1).</param>
    /// <param name="tMult">The factor by which each period is longer than the last (at least 1).</param>
    /// <param name="etaMin">The value at the bottom of the cosine (finite).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public CosineAnnealingWarmRestarts(IOptimizer optimizer, int t0, int tMult = 1, double etaMin = 0.0, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        Checks.AtLeast(t0, 1, nameof(t0));
        Checks.AtLeast(tMult, 1, nameof(tMult));
        Checks.Finite(etaMin, nameof(etaMin));
        T0 = t0;
        TI = t0;
        TMult = tMult;
        EtaMin = etaMin;
        TCur = -1;
        Initialize();
    }

    /// <summary>The number of epochs until the first restart (PyTorch's <c>T_0</c>).</summary>
    public int T0 { get; private set; }

    /// <summary>The factor by which each period is longer than the last (PyTorch's <c>T_mult</c>).</summary>
    public int TMult { get; private set; }

    /// <summary>The value at the bottom of the cosine (PyTorch's <c>eta_min</c>).</summary>
    public double EtaMin { get; private set; }

    /// <summary>The length of the current period, in epochs (PyTorch's <c>T_i</c>).</summary>
    public long TI { get; private set; }

    /// <summary>The epochs since the last restart, fractional after <see cref="Step(double)"/> (PyTorch's <c>T_cur</c>).</summary>
    public double TCur { get; private set; }

    /// <summary>Advances by one epoch, restarting at the end of a period.</summary>
    /// <exception cref="InvalidOperationException">The optimizer's groups were added or removed since the schedule was built.</exception>
    public override void Step()
    {
        if (LastEpoch < 0)
        {
            Step(0.0);
            return;
        }
        CheckGroups();
        double tCur = TCur + 1;
        long tI = TI;
        if (tCur >= tI)
        {
            tCur %= tI;
            tI *= TMult;
        }
        Set(LastEpoch + 1, tCur, tI);
    }

    /// <summary>Jumps to <paramref name="epoch"/>, which may be fractional (PyTorch's <c>step(epoch)</c>).</summary>
    /// <param name="epoch">The epoch: finite, at least 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative or not finite.</exception>
    /// <exception cref="InvalidOperationException">The optimizer's groups were added or removed since the schedule was built.</exception>
    public void Step(double epoch)
    {
        Checks.NonNegative(epoch, nameof(epoch));
        if (epoch >= int.MaxValue)
            throw Checks.Bad(nameof(epoch), null, epoch, $"epoch must be less than {int.MaxValue}");
        CheckGroups();
        double tCur;
        long tI = TI;
        if (epoch >= T0)
        {
            if (TMult == 1)
            {
                tCur = epoch % T0;
            }
            else
            {
                // Python: int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult)), a log quotient truncated toward 0.
                int n = (int)(Math.Log(epoch / T0 * (TMult - 1) + 1) / Math.Log(TMult));
                long power = 1;
                for (int k = 0; k < n; k++)
                    power = checked(power * TMult);
                // Python divides the integers T_0 * (T_mult^n - 1) and T_mult - 1 exactly rounded, as doubles do below 2^53.
                tCur = epoch - (double)checked(T0 * (power - 1)) / (TMult - 1);
                tI = checked(T0 * power);
            }
        }
        else
        {
            tI = T0;
            tCur = epoch;
        }
        Set((int)Math.Floor(epoch), tCur, tI);
    }

    private void Set(int lastEpoch, double tCur, long tI)
    {
        (int savedEpoch, double savedCur, long savedI) = (LastEpoch, TCur, TI);
        (LastEpoch, TCur, TI) = (lastEpoch, tCur, tI);
        try
        {
            UpdateToEpoch(lastEpoch);
        }
        catch
        {
            (LastEpoch, TCur, TI) = (savedEpoch, savedCur, savedI);
            throw;
        }
    }

    private protected override double[] ComputeValues() =>
        ForEachGroup(i => EtaMin + (Base(i) - EtaMin) * (1 + Math.Cos(Math.PI * TCur / TI)) / 2);

    private protected override void WriteState(JsonObject state)
    {
        state["T_0"] = T0;
        state["T_i"] = TI;
        state["T_mult"] = TMult;
        state["eta_min"] = StateJson.Number(EtaMin);
        state["T_cur"] = StateJson.Number(TCur);
    }

    private protected override Action ReadState(JsonObject state)
    {
        int t0 = StateJson.GetInt(state, "T_0");
        long tI = StateJson.GetLong(state, "T_i");
        int tMult = StateJson.GetInt(state, "T_mult");
        double etaMin = StateJson.GetDouble(state, "eta_min");
        double tCur = StateJson.GetDouble(state, "T_cur");
        Checks.AtLeast(t0, 1, nameof(t0), "T_0");
        Checks.AtLeast(tI, t0, "tI", "T_i");
        Checks.AtLeast(tMult, 1, nameof(tMult), "T_mult");
        Checks.Finite(etaMin, nameof(etaMin), "eta_min");
        Checks.NonNegative(tCur, "tCur", "T_cur");
        return () => (T0, TI, TMult, EtaMin, TCur) = (t0, tI, tMult, etaMin, tCur);
    }
}
