"""Every option of ``check``, ``watch``, ``load`` and the pytest plugin, declared once, and the inputs read once.

:mod:`.declarations`: an option is one ``Option`` (:mod:`.option`), its command-line flag(s), pytest option and
ini key, environment variable, default, validation rule and help, and for ``load`` the Locust scenario's flag it is
passed on as (load's own options: :mod:`.load`). The CLI subcommands build their argparse options from ``OPTIONS``
(``add_arguments``), the plugin its pytest options and ini keys (``add_pytest_options``), the load scenarios their
Locust options (``add_locust_arguments``), ``LoadOptions`` its defaults (``default_of``), and the CLI and the
plugin check values with the same rule (``problem``), so a flag cannot drift between them. It imports nothing
heavy: ``token-conformance --help`` builds every subcommand's parser from it.

:mod:`.inputs`: what must be read before a run (the profile; the headers from ``--header``, ``--header-file``
and ``$TOKEN_SERVER_HEADERS``; the app certificate from its file or ``$TOKEN_SERVER_APP_CERTIFICATE``) is read
once into ``Inputs``, a frozen object the CLI, :mod:`conformance.api`, watch and the plugin pass on: ``check``
hands it to the plugin inside the pytest process (and to xdist workers through their worker input), never
through environment variables a user could also set.

:mod:`.values`: the checks of ``check``'s values that its command line and :func:`conformance.api.check` share,
one message each, so a script is refused a bad value with the line a user sees, before anything starts. The API
then hands the checked values to the plugin in-process too (conformance.plugin.handover), typed, by declared key.
"""
