"""The Slack fixtures (lab fleet, Slack stand-in, real bot), shared from tests/support."""

from tests.support.slack_fixtures import site, site_factory, standin  # noqa: F401
