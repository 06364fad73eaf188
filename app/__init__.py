"""GenLoupe app: window, controller, jobs bridge, settings, CLI, export."""
