/** The mailbox model backup and restore share: who a mailbox is, its folders' paths, an item's metadata. */
export * from './identity.js';
export * from './folders.js';
export * from './items.js';
