// concord/http/tls_cert.h — self-signed certificates for a node that has none configured yet.
//
// The node calls GenerateSelfSignedCertificate when no certificate is configured, so that even a fresh
// node never speaks plain HTTP unless told to. Pure function of its inputs plus OpenSSL's CSPRNG;
// thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace concord::http {

enum class KeyType { kEcP256, kRsa2048 };

struct SelfSignedOptions {
  KeyType key_type = KeyType::kEcP256;
  std::string common_name = "localhost";
  std::string organization = "Concord node";
  // subjectAltName entries; IP literals become iPAddress names, everything else dNSName.
  std::vector<std::string> alt_names = {"localhost", "127.0.0.1", "::1"};
  int valid_days = 825;
};

// Writes a PEM certificate to `cert_path` and its PEM (PKCS#8) private key to `key_path`, the key file
// created with mode 0600. Existing files are replaced.
[[nodiscard]] absl::Status GenerateSelfSignedCertificate(const SelfSignedOptions& options,
                                                         const std::string& cert_path,
                                                         const std::string& key_path);

}  // namespace concord::http
