"""Fixed answers the bot gives (RTOC's wording where it had one)."""

NO_PERMISSION = "You don't have permission for this bot."
MAINTENANCE = "The bot is in maintenance mode; only admins can use it right now."
NOT_ALLOWED = "You don't have permission for this."
