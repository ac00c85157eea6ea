//! TLS on the public port, and the callers a client certificate names.
//!
//! A city or provincial system calls with a certificate issued by the CA
//! the gateway is given (`--client-ca`); the certificate's subject common
//! name is the id of that system's committee. Such a caller acts in the
//! upper committee role for its committee: the gateway mints it a
//! short-lived token with its own service key, so the services check it
//! again exactly as they check any token. Callers without a certificate
//! (dashboards, browsers, scripts) still connect, and send a bearer token.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cppcc_kit::auth::{Actor, AuthError, Role, TokenIssuer, TokenRequest, TokenVerifier, now};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// How long a token minted for a certificate's caller lives.
const MINTED_TTL: Duration = Duration::from_secs(600);

/// A minted token is replaced once it has less than this left, so a call
/// never reaches a service with a token about to expire.
const MINTED_MARGIN: u64 = 120;

/// TLS on the public port.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// With a client CA: what signs the tokens of the callers its
    /// certificates name.
    pub certificates: Option<TokenIssuer>,
}

/// The TLS settings of a certificate chain and key (PEM files), asking
/// for client certificates signed by `client_ca` when given (and taking
/// connections without one).
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<rustls::ServerConfig, cppcc_kit::BoxError> {
    let chain = read_certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
    // ring keeps the build to a C compiler on two cores; rustls marks it
    // deprecated as it offers no post-quantum key exchange (aws-lc does).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in read_certificates(ca)? {
                roots
                    .add(c)
                    .map_err(|e| format!("{} holds a CA it cannot use: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not make a TLS identity: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, cppcc_kit::BoxError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()).into());
    }
    Ok(certs)
}

/// The caller a verified client certificate names.
#[derive(Debug)]
pub struct CertCaller {
    /// The committee whose system it is.
    pub committee: String,
    /// How the audit log names it: `cert:<committee>:<serial>`.
    pub subject: String,
    /// The token last minted for it.
    minted: Mutex<Option<Actor>>,
}

impl CertCaller {
    /// The caller a certificate (DER) names, or why it names none.
    pub fn from_certificate(der: &[u8]) -> Result<CertCaller, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("the client certificate cannot be read: {e}"))?;
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .ok_or_else(|| {
                "the client certificate's subject has no common name (CN): it must be the id of the caller's committee"
                    .to_owned()
            })?;
        if !cppcc_kit::names::is_committee_id(cn) {
            return Err(format!(
                "the client certificate's common name `{cn}` is not a committee id (lowercase letters, digits and hyphens, e.g. `suizhou`)"
            ));
        }
        Ok(CertCaller {
            committee: cn.to_owned(),
            subject: format!("cert:{cn}:{}", cert.raw_serial_as_string()),
            minted: Mutex::new(None),
        })
    }

    /// The caller as an upper committee of its committee, with a token
    /// minted by `issuer` (and checked by `verifier`, as services will).
    pub fn actor(
        &self,
        issuer: &TokenIssuer,
        verifier: &TokenVerifier,
        peer: Option<std::net::SocketAddr>,
    ) -> Result<Actor, AuthError> {
        let mut minted = self.minted.lock().expect("not poisoned");
        if let Some(actor) = minted.as_ref()
            && actor.expires_at > now() + MINTED_MARGIN
        {
            let mut actor = actor.clone();
            actor.peer = peer;
            return Ok(actor);
        }
        let token = issuer.issue(&TokenRequest {
            subject: &self.subject,
            role: Role::UpperCommittee,
            committee: &self.committee,
            member: None,
            unit: None,
            ttl: MINTED_TTL,
        });
        let actor = verifier.verify(&token, peer)?;
        *minted = Some(actor.clone());
        Ok(actor)
    }
}

/// Checks at start-up that the tokens `issuer` mints are ones `verifier`
/// (and so every service) accepts.
pub fn check_issuer(issuer: &TokenIssuer, verifier: &TokenVerifier) -> Result<(), String> {
    let probe = CertCaller {
        committee: "probe".into(),
        subject: "cert:probe:0".into(),
        minted: Mutex::new(None),
    };
    probe.actor(issuer, verifier, None).map(drop).map_err(|e| {
        format!(
            "the gateway's service key signs tokens its own keys refuse ({e}): add its public key to --jwt-public-key (CPPCC_JWT_PUBLIC_KEYS) here and in every service"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(cn: Option<&str>) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["city.example".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
        }
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Suizhou CPPCC");
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn a_certificate_names_its_committee_by_common_name() {
        let caller = CertCaller::from_certificate(&certificate(Some("suizhou"))).unwrap();
        assert_eq!(caller.committee, "suizhou");
        assert!(
            caller.subject.starts_with("cert:suizhou:"),
            "{}",
            caller.subject
        );

        let none = CertCaller::from_certificate(&certificate(None)).unwrap_err();
        assert!(none.contains("no common name"), "{none}");
        let bad = CertCaller::from_certificate(&certificate(Some("Suizhou City"))).unwrap_err();
        assert!(
            bad.contains("`Suizhou City` is not a committee id"),
            "{bad}"
        );
        let junk = CertCaller::from_certificate(b"not a certificate").unwrap_err();
        assert!(junk.contains("cannot be read"), "{junk}");
    }

    #[test]
    fn a_certificate_caller_is_an_upper_committee_with_a_token_services_accept() {
        let (private, public) = cppcc_kit::auth::generate_ed25519_pem();
        let issuer = TokenIssuer::from_ed_pem(private.as_bytes(), None, "iss", "aud").unwrap();
        let verifier =
            TokenVerifier::from_pems(vec![(None, public.into_bytes())], "iss", "aud").unwrap();
        check_issuer(&issuer, &verifier).unwrap();
        let caller = CertCaller::from_certificate(&certificate(Some("suizhou"))).unwrap();
        let actor = caller.actor(&issuer, &verifier, None).unwrap();
        assert_eq!(actor.role, Role::UpperCommittee);
        assert_eq!(actor.committee(), Some("suizhou"));
        assert_eq!(actor.subject, caller.subject);
        // The same token serves the next call, until it is near expiry.
        let again = caller.actor(&issuer, &verifier, None).unwrap();
        assert_eq!(again.bearer, actor.bearer);
        caller.minted.lock().unwrap().as_mut().unwrap().expires_at = now() + MINTED_MARGIN;
        let fresh = caller.actor(&issuer, &verifier, None).unwrap();
        assert!(fresh.expires_at > now() + MINTED_MARGIN);

        // A key the verifier does not trust is caught at start-up.
        let (other, _) = cppcc_kit::auth::generate_ed25519_pem();
        let stranger = TokenIssuer::from_ed_pem(other.as_bytes(), None, "iss", "aud").unwrap();
        let refused = check_issuer(&stranger, &verifier).unwrap_err();
        assert!(refused.contains("--jwt-public-key"), "{refused}");
    }
}
