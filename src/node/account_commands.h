// concord/node/account_commands.h — `concord org add|list` and `concord user add|list|key`.
//
// Each command opens the accounts of the store at `db` (store::OpenAccounts), does one thing and closes.
// Exit codes: 0 done; 1 the request could not be carried out (unknown organisation or user, a name
// already taken, a database problem); 2 usage (bad role, CIDR, expiry, conflicting options).
//
// Output is for scripts first: `org add` prints the new organisation's id alone, `user add` and
// `user key` print the new token alone ("concord_…\n", nothing else, so that `KEY=$(concord user add …)`
// works) and say on standard error that it is shown once. With --json every command prints one JSON
// document on standard output instead (for `user add` and `user key` it includes the token).
//
// Every change (org add, user add, a key issued or revoked) is an audit entry of action admin in the store's
// audit log, as the OS user running the command (node/cli_audit.h), with the shapes and the fail-closed order
// of the REST API (api.h, "administrative changes"): when the entry cannot be written, nothing is done (exit 1).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time.h"

namespace concord::node {

struct OrgAddArgs {
  std::string name;     // positional NAME
  bool remote = false;  // --remote: an organisation reached through a peer, without users here
  bool host = false;    // --host: make it the node's host organisation (idempotent; serve does it too)
};

struct KeyArgs {
  std::string expires;             // --expires RFC3339|DURATION ("" = never); see ParseExpiry
  std::vector<std::string> cidrs;  // --cidr CIDR, repeatable; empty = any source address
  bool read_only = false;          // --read-only-key (user add), --read-only (user key)
};

struct UserAddArgs {
  std::string name;  // positional NAME
  std::string org;   // --org ORG (name or identity id), required
  std::string role;  // --role ROLE (admin, org-admin, analyst, duty-officer, read-only, sync), required
  KeyArgs key;       // options of the user's first key
};

struct UserListArgs {
  std::string org;  // --org ORG ("" = every organisation)
};

struct UserKeyArgs {
  std::string name;    // positional NAME (user name or id)
  KeyArgs key;         // options of a new key
  std::string revoke;  // --revoke KEY_ID
  bool list = false;   // --list
};

int RunOrgAdd(const std::string& db, const OrgAddArgs& args, bool json, std::ostream& out, std::ostream& err,
              const Clock& clock = SystemClock::Instance());
int RunOrgList(const std::string& db, bool json, std::ostream& out, std::ostream& err,
               const Clock& clock = SystemClock::Instance());
int RunUserAdd(const std::string& db, const UserAddArgs& args, bool json, std::ostream& out, std::ostream& err,
               const Clock& clock = SystemClock::Instance());
int RunUserList(const std::string& db, const UserListArgs& args, bool json, std::ostream& out, std::ostream& err,
                const Clock& clock = SystemClock::Instance());
// Issues a key, or with --revoke revokes one of the user's keys, or with --list lists them (at most one of
// --revoke and --list, and neither together with key options).
int RunUserKey(const std::string& db, const UserKeyArgs& args, bool json, std::ostream& out, std::ostream& err,
               const Clock& clock = SystemClock::Instance());

// An expiry as the CLI takes it: an RFC 3339 instant, or a duration from `now`: a positive whole number
// with one of the units s, m, h, d, w ("90d", "12h").
absl::StatusOr<Timestamp> ParseExpiry(std::string_view text, const Timestamp& now);

}  // namespace concord::node
