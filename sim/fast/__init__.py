"""Fast cycle model: schedules executed against the compiled DRAM controller."""
