"""Events fanned out to subscribers (jobs changed, runs reported, endpoints seen)."""
