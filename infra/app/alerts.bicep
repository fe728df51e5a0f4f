// Alerts an admin gets without opening anything: log search alert rules over the telemetry the app writes at the
// end of each run (shared/telemetry.ts), and an action group that emails them. Rules are stateful (autoMitigate):
// overlapping windows never miss an event late to arrive, and an alert is sent once, then resolved.

param location string
param tags object = {}
param applicationInsightsId string
@description('Address the alerts are emailed to; empty: the rules exist (visible in the portal) but send nothing.')
param alertEmail string = ''
param actionGroupName string
@minValue(2)
@maxValue(47)
@description('Hours without a finished backup run before the missed-run alert fires (one day plus slack for nightly).')
param missedRunHours int = 26

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'mailboxvault'
    enabled: true
    emailReceivers: [
      {
        name: 'admin'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var perRun = { timeAggregation: 'Count', operator: 'GreaterThan', threshold: 0 }

var rules = [
  {
    name: 'backup-run-failed'
    displayName: 'mailbox-vault: a backup run failed'
    description: 'A backup run backed up nothing (every mailbox failed, or Graph refused every user). The run report names each reason.'
    severity: 1
    query: loadTextContent('../alerts/backup-run-failed.kql')
    windowSize: 'PT2H'
    frequency: 'PT1H'
    condition: perRun
    dimensions: ['runId']
  }
  {
    name: 'backup-run-errors'
    displayName: 'mailbox-vault: a backup run completed with errors'
    description: 'Items or mailboxes failed in a backup run; they are retried by the next run. The run report names each one.'
    severity: 2
    query: loadTextContent('../alerts/backup-run-errors.kql')
    windowSize: 'PT2H'
    frequency: 'PT1H'
    condition: perRun
    dimensions: ['runId']
  }
  {
    name: 'mailbox-without-snapshot'
    displayName: 'mailbox-vault: a mailbox has no good snapshot in 24 hours'
    description: 'Every backup of this mailbox in the last 24 hours failed: no snapshot was committed.'
    severity: 1
    query: loadTextContent('../alerts/mailbox-without-snapshot.kql')
    windowSize: 'P1D'
    frequency: 'PT1H'
    condition: perRun
    dimensions: ['upn']
  }
  {
    name: 'backup-run-missed'
    displayName: 'mailbox-vault: no backup run finished on schedule'
    description: 'No backup run finished in ${missedRunHours} hours: the app is down, its timer did not fire, or a run is stuck.'
    severity: 1
    query: replace(loadTextContent('../alerts/backup-run-missed.kql'), '{missedRunHours}', string(missedRunHours))
    windowSize: 'P2D'
    frequency: 'PT1H'
    condition: { timeAggregation: 'Count', operator: 'LessThan', threshold: 1 }
    dimensions: []
  }
  {
    name: 'mass-deletion'
    displayName: 'mailbox-vault: mass deletion in a mailbox'
    description: 'A backup run saw far more items deleted from a mailbox than it usually does: check the mailbox before the deletions age out of retention.'
    severity: 1
    query: loadTextContent('../alerts/mass-deletion.kql')
    windowSize: 'PT2H'
    frequency: 'PT1H'
    condition: perRun
    dimensions: ['upn']
  }
  {
    name: 'verification-problems'
    displayName: 'mailbox-vault: verification found damage'
    description: 'Maintenance found stored versions that no longer match their SHA-256, or could not process a mailbox. The maintenance report names each.'
    severity: 1
    query: loadTextContent('../alerts/verification-problems.kql')
    windowSize: 'PT2H'
    frequency: 'PT1H'
    condition: perRun
    dimensions: ['maintenanceId']
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in rules: {
    name: 'mailbox-vault-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [applicationInsightsId]
      evaluationFrequency: rule.frequency
      windowSize: rule.windowSize
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: rule.condition.timeAggregation
            operator: rule.condition.operator
            threshold: rule.condition.threshold
            dimensions: [for d in rule.dimensions: { name: d, operator: 'Include', values: ['*'] }]
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      actions: {
        actionGroups: empty(alertEmail) ? [] : [actionGroup.id]
      }
    }
  }
]

output actionGroupId string = empty(alertEmail) ? '' : actionGroup.id
output ruleNames array = [for (rule, i) in rules: alertRules[i].name]
