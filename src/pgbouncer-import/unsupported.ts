/**
 * [pgbouncer] settings pgmoat has no counterpart for, with the reason and, where there is
 * one, what to do instead. Settings absent from this table and from the converters are
 * reported as unknown.
 */
const TO_STDOUT = 'pgmoat logs JSON lines to stdout (log.format: pretty for people); let the service manager keep them';
const TCP_ONLY = 'pgmoat listens on TCP only (listen.host, listen.port)';
const NO_DNS_CACHE = "pgmoat resolves host names with the system resolver at each connection and keeps no DNS cache of its own";
const LOW_LEVEL = "pgmoat's buffers and event loop are not tuned by settings";
const KEEPALIVE = 'pgmoat turns on TCP keepalive with the system defaults (tcp_keepalive) and does not tune its timers';
const PARAMS = 'not needed: pgmoat applies every startup parameter of a client (extra_float_digits, options -c ...) to its server session instead of refusing unknown ones';

export const UNSUPPORTED_SETTINGS: Readonly<Record<string, string>> = {
  logfile: TO_STDOUT,
  syslog: TO_STDOUT,
  syslog_ident: TO_STDOUT,
  syslog_facility: TO_STDOUT,
  log_connections: "pgmoat's logging is chosen by log.level alone",
  log_disconnections: "pgmoat's logging is chosen by log.level alone",
  log_pooler_errors: "pgmoat's logging is chosen by log.level alone",
  log_stats: "pgmoat's statistics are metrics (admin.http) and the admin console, not log lines",
  stats_period: "pgmoat's statistics are metrics (admin.http) and the admin console, not log lines",
  pidfile: 'pgmoat does not daemonize; run it under a service manager (systemd, a container runtime)',
  user: 'pgmoat does not switch users; start it as that user from the service manager',
  conffile: 'pgmoat is given its configuration file on the command line (pgmoat serve --config)',
  service_name: 'Windows service registration is not part of pgmoat',
  job_name: 'Windows service registration is not part of pgmoat',
  unix_socket_dir: TCP_ONLY,
  unix_socket_mode: TCP_ONLY,
  unix_socket_group: TCP_ONLY,
  so_reuseport: 'pgmoat shares a port only between the workers of one gateway (serve --workers N, listen.reuse_port); run one gateway per address, or several behind a TCP load balancer',
  peer_id: 'pgmoat has no peering between processes',
  listen_backlog: LOW_LEVEL,
  pkt_buf: LOW_LEVEL,
  sbuf_loopcnt: LOW_LEVEL,
  tcp_defer_accept: LOW_LEVEL,
  tcp_socket_buffer: LOW_LEVEL,
  tcp_keepcnt: KEEPALIVE,
  tcp_keepidle: KEEPALIVE,
  tcp_keepintvl: KEEPALIVE,
  tcp_user_timeout: 'pgmoat does not set TCP_USER_TIMEOUT',
  dns_max_ttl: NO_DNS_CACHE,
  dns_nxdomain_ttl: NO_DNS_CACHE,
  dns_zone_check_period: NO_DNS_CACHE,
  resolv_conf: NO_DNS_CACHE,
  ignore_startup_parameters: PARAMS,
  track_extra_parameters: PARAMS,
  application_name_add_host: 'pgmoat does not rewrite application_name',
  disable_pqexec: 'pgmoat does not refuse the simple query protocol',
  server_round_robin: 'pgmoat hands out idle server connections in its own order; there is no setting for it',
  server_fast_close: 'pgmoat has no setting for it',
  autodb_idle_timeout: 'pgmoat has no "*" fallback database, so no automatically created pools to free',
  cancel_wait_timeout: 'pgmoat has no setting for it',
  suspend_timeout: 'pgmoat has no SUSPEND or online restart (-R)',
  stats_users: "pgmoat's admin console has one level of access: admin.identities (certificate CNs)",
  auth_dbname: 'pgmoat has no auth_dbname setting',
  max_db_client_connections: 'pgmoat limits clients with max_client_conn and limits.connections_per_identity / connections_per_address',
  max_user_client_connections: 'pgmoat limits clients with max_client_conn and limits.connections_per_identity / connections_per_address',
};

/** Switches whose "off" is what pgmoat does anyway: nothing is lost, so nothing is reported. */
const OFF_IS_PGMOAT: readonly string[] = [
  'syslog',
  'so_reuseport',
  'peer_id',
  'application_name_add_host',
  'disable_pqexec',
  'server_fast_close',
  'tcp_keepcnt',
  'tcp_keepidle',
  'tcp_keepintvl',
  'tcp_user_timeout',
];

/** True when an unsupported setting's value changes nothing in pgmoat (empty, or an "off" switch). */
export function changesNothing(key: string, value: string): boolean {
  const v = value.trim();
  if (v === '') return true;
  return OFF_IS_PGMOAT.includes(key) && /^0+(\.0*)?$/.test(v);
}
