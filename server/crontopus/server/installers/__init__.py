"""What the server serves to install its own agents: the installer scripts and a package index.

`scripts` renders agent.sh and agent.ps1 (kept beside this module) for the server they come
from; `wheels` finds the agent's wheels and lists them as a PEP 503 simple index.
"""
