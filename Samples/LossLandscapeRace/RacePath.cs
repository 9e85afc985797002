namespace LossLandscapeRace;

/// <summary>Where one optimizer went: the point and its loss before the first step (index 0) and after every step.</summary>
/// <param name="Name">The optimizer, as in the table and the figures' legends.</param>
public sealed record RacePath(string Name, double[] Xs, double[] Ys, double[] Loss);
