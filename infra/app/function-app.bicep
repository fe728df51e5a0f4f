// The Functions app on Flex Consumption (its own FC1 plan): Node, a user-assigned identity for everything (no
// keys, no connection strings with secrets), identity-based host storage, and every setting the code reads.

param name string
param planName string
param location string
param tags object = {}
@allowed(['20', '22'])
param nodeVersion string = '22'
param identityId string
param identityClientId string
param hostStorageAccountName string
param deploymentContainerName string
param applicationInsightsName string
@description('Subnet delegated to Microsoft.App/environments; empty: no virtual network integration.')
param subnetId string = ''
param maximumInstanceCount int = 100
param instanceMemoryMB int = 2048
@description('Instances kept warm for the Durable triggers (orchestrations and activities): a run never waits on a cold start to poll its queues (docs/scale.md).')
param durableAlwaysReady int = 1

@description('The MAILBOX_VAULT_* settings the code reads (shared/config.ts), as name → value.')
param appSettings object
@description('Client id of the API app registration callers sign in to (App Service Authentication).')
param apiClientId string
@description('Its application id URI: tokens for it (or for the client id) are accepted.')
param apiIdentifierUri string

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // The HTTP API is how an admin (and the CLI) reaches the app; every request needs an Entra ID token.
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: durableAlwaysReady > 0 ? [{ name: 'durable', instanceCount: durableAlwaysReady }] : []
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    // glibc's malloc, tuned as the bench measures the app (docs/performance.md): two arenas, and buffers of 128 KB
    // and more mapped and given back when freed, so the process's RSS does not keep the peak's fragments. V8 in the
    // Node.js worker (node-worker.json): its heap let grow 20 % past what the last full collection left, so garbage
    // is collected before it piles up (a third less peak RSS in the scale bench, at no CPU cost at L = 200 ms).
    properties: union(appSettings, loadJsonContent('malloc-tuning.json'), loadJsonContent('node-worker.json'), {
      // Host storage through the identity: Durable Functions on Azure Storage needs blob, queue and table.
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      AzureWebJobsStorage__blobServiceUri: hostStorage.properties.primaryEndpoints.blob
      AzureWebJobsStorage__queueServiceUri: hostStorage.properties.primaryEndpoints.queue
      AzureWebJobsStorage__tableServiceUri: hostStorage.properties.primaryEndpoints.table
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
      // App Insights with local auth off: telemetry is sent with the identity.
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    })
  }
}

// App Service Authentication (Easy Auth v2): every request needs a valid Entra ID token for the API, or is
// answered 401 before the app sees it. The app reads the verified claims from x-ms-client-principal (and trusts
// that header only because this is on: WEBSITE_AUTH_ENABLED) and checks each route's role itself.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      // The portal's static files hold no data, and a browser must load them before it has a token; the API
      // routes they call keep their own check (functions/http.ts refuses a request without the platform's principal).
      excludedPaths: ['/api/portal', '/api/portal/*']
    }
    httpSettings: {
      requireHttps: true
      forwardProxy: { convention: 'NoProxy' }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: apiClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [apiIdentifierUri, apiClientId]
        }
      }
    }
    // The portal signs browsers in at /.auth/login/aad?post_login_redirect_uri=/api/portal/ (a path of this app, which
    // Easy Auth allows without allowedExternalRedirectUrls) and calls the API with the AppServiceAuthSession cookie;
    // Easy Auth passes the ID token's claims (the app roles among them) in x-ms-client-principal. No token store:
    // the app reads no x-ms-token-* header and the portal no /.auth/me, so no token is kept anywhere. The session
    // cookie lasts eight hours, then the portal asks for a new sign-in.
    login: {
      tokenStore: { enabled: false }
      cookieExpiration: { convention: 'FixedTime', timeToExpiration: '08:00:00' }
      nonce: { validateNonce: true }
    }
  }
}

output name string = app.name
output uri string = 'https://${app.properties.defaultHostName}'
