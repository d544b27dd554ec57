"""Infrastructure review for pull requests: synthesize two revisions, report what changes.

`python -m tools.review` synthesizes the base revision (a git worktree) and the head (the
working tree, or another ref) into cloud assemblies, diffs every stack's template and prints a
Markdown report: security- and data-relevant changes first, then per-stack resource tables.
No AWS credentials are used; everything is read from the synthesized templates.

Modules: `assembly` (read cdk.out, synthesize revisions), `cfn` (template value helpers),
`rules` (replacement table, stateful types, weakening rules), `policy` (IAM statement diff),
`diff` (stack/resource diff and findings), `report` (Markdown), `comment` (the pull request
comment and the destructive-change gate), `__main__` (CLI).
"""
