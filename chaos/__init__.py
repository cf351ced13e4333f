"""`make chaos`: the failure battery an operator runs before trusting the real-time pipeline (`python -m chaos.run`)."""
