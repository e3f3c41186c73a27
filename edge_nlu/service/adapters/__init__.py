"""Device-state adapters: each turns one topic convention into `EntityUpdate`s of the live home."""
