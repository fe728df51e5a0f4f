export { startSimulator } from './server.js';
export type { Simulator, SimulatorOptions } from './server.js';
export { SimTenant, SimMailbox, WELL_KNOWN_FOLDERS } from './tenant.js';
export type { SimItem, SimFolder, NewItem } from './tenant.js';
export { seedTenant, fillMailbox, DEMO_TENANT, AWKWARD_FOLDERS } from './seed.js';
export type { TenantSeed, MailboxSeed } from './seed.js';
export { EXCHANGE_LIMITS, NO_FAULTS } from './throttle.js';
export type { FaultRates, ScriptedFault, SimulatorLimits, FaultKind } from './throttle.js';
export { SimulatorTokenCredential } from './tokenCredential.js';
