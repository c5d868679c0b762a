"""PR comment commands (``/deploy``, ``/build``, ``/dag``, ``/rollback``, ``/help``).

visible (the lines a reader sees, as GitHub renders the comment) → parse (the grammar) →
permissions (the facts, read from the API) → decide (pure: event and facts in; ignored, refused
or planned out) → feedback (reactions and replies) → dispatch (the accepted actions, with the
head-SHA check and, for prod, the approval read again) → actions (``/deploy`` and ``/rollback``
through the online feature, ``/build`` and ``/dag`` through the image step and the DAG publishing
the edge hands in); tree puts the PR head in a worktree for /build and /dag. handle ties them
together for GitHub Actions (``somlier pipeline event``) and the webhook receiver; the CLI edge
wires the GitHub clients, the action table and the receiver. See docs/commands.md.
"""
