"""Bundled assets: demo checkpoints, feature-network weights, report template."""
