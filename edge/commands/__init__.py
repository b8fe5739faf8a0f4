"""Remote commands at the edge (``down/cmd`` → ``up/cmd-reply``): run at most once per
``cmd_id``, recorded durably first, replied until the broker has the reply."""

from edge.commands.doors import Door, DoorRegistry
from edge.commands.handlers import Handler, Targets, handlers
from edge.commands.outcome import CommandFailed, CommandRefused
from edge.commands.runner import COMMANDS_FILE, CommandRunner

__all__ = ["COMMANDS_FILE", "CommandFailed", "CommandRefused", "CommandRunner", "Door",
           "DoorRegistry", "Handler", "Targets", "handlers"]
