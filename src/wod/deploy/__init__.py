"""``wod deploy`` and ``wod init``: the controller's side of a multi-host deployment.

The playbooks in ``deploy/`` do the work on the hosts; this package prepares what they need on
the controller (a wheelhouse of this checkout and its pinned dependencies, an environment folder
with its secrets in an Ansible Vault) and runs ``ansible-playbook`` from the project's venv.
"""
