#include "http/tls_cert.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "common/status.h"
#include "fmt/format.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/rand.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"

namespace concord::http {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

absl::Status OpenSslError(std::string_view what) {
  const unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return absl::InternalError(fmt::format("{}: {}", what, buf));
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

absl::Status WritePem(const std::string& path, mode_t mode, const std::function<int(BIO*)>& write) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return absl::UnavailableError(fmt::format("{}: cannot create", path));
  ::fchmod(fd, mode);  // O_CREAT's mode does not apply to an existing file
  Owned<BIO> bio(BIO_new_fd(fd, BIO_CLOSE));
  if (!bio) {
    ::close(fd);
    return OpenSslError(path);
  }
  if (write(bio.get()) != 1 || BIO_flush(bio.get()) != 1) return OpenSslError(fmt::format("{}: write", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status GenerateSelfSignedCertificate(const SelfSignedOptions& options, const std::string& cert_path,
                                           const std::string& key_path) {
  Owned<EVP_PKEY> key(options.key_type == KeyType::kEcP256 ? EVP_EC_gen("P-256")
                                                            : EVP_RSA_gen(static_cast<unsigned int>(2048)));
  if (!key) return OpenSslError("key generation");

  Owned<X509> cert(X509_new());
  if (!cert) return OpenSslError("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  // RFC 5280 §4.1.2.2: positive serial of up to 20 octets; 159 random bits.
  Owned<BIGNUM> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
    return OpenSslError("serial number");
  }
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate peers whose clock is a little behind
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(options.valid_days) * 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add_entry = [&](const char* field, const std::string& value) {
    return value.empty() ||
           X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                      -1, -1, 0) == 1;
  };
  if (!add_entry("O", options.organization) || !add_entry("CN", options.common_name)) {
    return OpenSslError("subject name");
  }
  X509_set_issuer_name(cert.get(), name);
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return OpenSslError("public key");

  std::string san;
  for (const std::string& n : options.alt_names) {
    san += fmt::format("{}{}:{}", san.empty() ? "" : ",", IsIpLiteral(n) ? "IP" : "DNS", n);
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  auto add_ext = [&](int nid, const std::string& value) {
    Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    return ext && X509_add_ext(cert.get(), ext.get(), -1) == 1;
  };
  if ((!san.empty() && !add_ext(NID_subject_alt_name, san)) || !add_ext(NID_subject_key_identifier, "hash")) {
    return OpenSslError("certificate extensions");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return OpenSslError("signing");

  CONCORD_RETURN_IF_ERROR(WritePem(key_path, 0600, [&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }));
  return WritePem(cert_path, 0644, [&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); });
}

}  // namespace concord::http
