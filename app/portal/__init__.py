"""The public intake portal (/portal): enterprises and citizens file, track, supplement and rate."""
