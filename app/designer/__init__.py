"""The process designer: validate, deploy and version BPMN, compare versions, migrate instances, drafts."""
