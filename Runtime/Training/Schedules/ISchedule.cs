using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>A schedule whose state a checkpoint saves and restores (every schedule here, <see cref="ReduceLROnPlateau"/> included).</summary>
public interface ISchedule
{
    /// <summary>The schedule's state (PyTorch's <c>state_dict()</c>), as JSON.</summary>
    JsonObject StateDict();

    /// <summary>Restores a state from <see cref="StateDict"/>; checked first, nothing changes on a mismatch.</summary>
    void LoadStateDict(JsonObject state);
}
