// What Debian 12's PostgreSQL 15.18 said, measured on this machine, as a face's templates would carry it
// (scram-sha-256, which no catalog entry uses yet). Shared by the protocol and client tests.
export const PG15_TEMPLATES = {
  "severityField": true,
  "earliestMajor": 3,
  "negotiateMinor": true,
  "gssEncRequest": "G",
  "authMethod": "scram-sha-256",
  "authTimeoutMs": 60000,
  "maxPasswordMessage": 65535,
  "errUnsupported": "0A000|postmaster.c|2222|ProcessStartupPacket|unsupported frontend protocol {{major}}.{{minor}}: server supports 3.0 to 3.0",
  "errNoUser": "28000|postmaster.c|2351|ProcessStartupPacket|no PostgreSQL user name specified in startup packet",
  "errLayout": "08P01|postmaster.c|2334|ProcessStartupPacket|invalid startup packet layout: expected terminator as last byte",
  "errExpectedPassword": "08P01|auth.c|718|recv_password_packet|expected password response, got message type {{type}}",
  "errPasswordSize": "08P01|auth.c|739|recv_password_packet|invalid password packet size",
  "errEmptyPassword": "28P01|auth.c|757|recv_password_packet|empty password returned by client",
  "errPassword": "28P01|auth.c|334|auth_failed|password authentication failed for user \"{{user}}\"",
  "errExpectedSasl": "08P01|auth-sasl.c|95|CheckSASLAuth|expected SASL response, got message type {{type}}",
  "errSaslMechanism": "08P01|auth-scram.c|256|scram_init|client selected an invalid SASL authentication mechanism",
  "errScramMalformed": "08P01|auth-scram.c|1025|read_client_first_message|malformed SCRAM message"
};
