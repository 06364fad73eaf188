"""GenLoupe's engine: data, models, likelihood, features, metrics, session. No Qt here."""
