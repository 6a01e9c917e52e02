"""The flows the `llmaccel` command runs: emit, synth, sim (smoke), decode, run, bench."""
