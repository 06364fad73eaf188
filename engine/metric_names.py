"""The metric names an evaluation knows, in a module without torch: the comparison store and the window read
them before the engine (torch among it) is imported."""

ALL_METRICS = ("ll", "fid", "kid", "is", "pr", "dc")
