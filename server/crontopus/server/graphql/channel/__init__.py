"""The agent channel: `agentEvents`, the one subscription every connected agent holds."""
