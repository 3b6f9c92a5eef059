/** The certificate authority: the library the CLI and the tests use. */
export { initCa, type InitCaOptions, type InitCaResult } from './init.js';
export { openCa, type CertificateAuthority } from './authority.js';
export { issueClient, renewClient, DEFAULT_CLIENT_DAYS, type IssueClientOptions, type IssuedClient, type RenewClientOptions, type RenewedClient } from './issue-client.js';
export { issueServer, DEFAULT_SERVER_DAYS, type IssueServerOptions, type ServerCertificate } from './issue-server.js';
export { revoke, writeCrl, type RevokeOptions, type RevokeResult } from './revoke.js';
export { listCertificates, EXPIRING_RULE_TEXT, type ListedCertificate } from './list.js';
export { readInventory, type Inventory, type InventoryEntry } from './inventory.js';
export { loadInventory } from './inventory-store.js';
export { CA_FILES, caPath } from './ca-layout.js';
export { DEFAULT_CRL_DAYS, type BuiltCrl } from './crl.js';
export { parseDays, parseHosts, parseReason, REVOCATION_REASONS, DEFAULT_CA_NAME, type RevocationReason } from './inputs.js';
export { KEY_TYPES, parseKeyType, type KeyType } from './keys.js';
export {
  formatMaterial,
  formatLibpq,
  loadClientFiles,
  pkcs8Der,
  MATERIAL_FORMATS,
  EXPORT_FORMATS,
  type ExportFormat,
  type MaterialFormat,
  type ClientMaterial,
} from './deployment-material.js';
export { parseLifetime, MIN_LIFETIME_MS, type Lifetime } from './lifetime.js';
export { parseSans, sansOfCertificate, type ExtraSan } from './san.js';
export { readCaDefaults, type CaDefaults } from './ca-defaults.js';
export { adoptCa, type AdoptCaOptions, type AdoptCaResult } from './adopt.js';
