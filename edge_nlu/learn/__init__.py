"""Self-learning on the hub: interaction store, rephrase mining, online rewriting, preferences."""
