"""A stand-in for Slack on loopback, and a web page to look at it, for tests and the demo.

Like the FMC lab, this emulates the other side: the bot under test is the real bot
(:mod:`bot.slack`), pointed at these servers instead of Slack's.

Modules:

- :mod:`bot.lab.slack.workspace`: the workspace model (``Workspace``): channel messages
  and threads, ephemerals, App Home views and open modals as ``StoredMessage`` and
  ``OpenModal``, and the workspace's identity (``TEAM_ID``, ``BOT_USER_ID`` ...).
- :mod:`bot.lab.slack.payloads`: what Slack sends to an app (``slash_command_form``,
  ``block_actions_payload``, ``app_home_opened_event``, ``view_submission_payload``,
  ``view_state``), the HTTP bodies (``encode_form``, ``interactive_form``) and
  ``find_action``.
- :mod:`bot.lab.slack.server`: ``SlackStandIn``, the aiohttp server: Web API methods,
  response URLs, Socket Mode, signed HTTP posts, and a person's actions (a command, a
  click, opening App Home, submitting a modal) delivered as Slack delivers them.
- :mod:`bot.lab.slack.console`: ``ConsoleServer``, a local web page (static files in
  ``console/``) showing the workspace as Slack would and acting through the stand-in.
"""
