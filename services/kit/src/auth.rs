//! Who is calling: bearer tokens (JWT, EdDSA or RS256) verified on every
//! call, turned into an [`Actor`] the RPC reads from the request.
//!
//! Tokens come from the identity provider; the suite only verifies them
//! (issuer, audience, expiry, signature by a configured key, chosen by
//! `kid`). Development tokens are minted with a local key by
//! `cppcc token`, through [`TokenIssuer`].

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ServiceError;
use crate::names;

pub use cppcc_proto::common::v1::Role as ProtoRole;

/// The role a caller acts in (DOMAIN.md, "Roles").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    SecurityAdmin,
    ProposalOffice,
    InfoCentre,
    Staff,
    Member,
    HandlingUnit,
    Leader,
    UpperCommittee,
    Auditor,
    /// Another cppcc service acting on its own behalf.
    Service,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 11] = [
        Role::Admin,
        Role::SecurityAdmin,
        Role::ProposalOffice,
        Role::InfoCentre,
        Role::Staff,
        Role::Member,
        Role::HandlingUnit,
        Role::Leader,
        Role::UpperCommittee,
        Role::Auditor,
        Role::Service,
    ];

    /// The claim value, e.g. `proposal_office`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SecurityAdmin => "security_admin",
            Role::ProposalOffice => "proposal_office",
            Role::InfoCentre => "info_centre",
            Role::Staff => "staff",
            Role::Member => "member",
            Role::HandlingUnit => "handling_unit",
            Role::Leader => "leader",
            Role::UpperCommittee => "upper_committee",
            Role::Auditor => "auditor",
            Role::Service => "service",
        }
    }

    /// Parses a claim value.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The protobuf enum value.
    pub fn to_proto(self) -> ProtoRole {
        match self {
            Role::Admin => ProtoRole::Admin,
            Role::SecurityAdmin => ProtoRole::SecurityAdmin,
            Role::ProposalOffice => ProtoRole::ProposalOffice,
            Role::InfoCentre => ProtoRole::InfoCentre,
            Role::Staff => ProtoRole::Staff,
            Role::Member => ProtoRole::Member,
            Role::HandlingUnit => ProtoRole::HandlingUnit,
            Role::Leader => ProtoRole::Leader,
            Role::UpperCommittee => ProtoRole::UpperCommittee,
            Role::Auditor => ProtoRole::Auditor,
            Role::Service => ProtoRole::Service,
        }
    }

    /// From the protobuf enum value.
    pub fn from_proto(role: ProtoRole) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.to_proto() == role)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claims of a cppcc token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The subject: a person's or system's id at the identity provider.
    pub sub: String,
    /// The role, e.g. `admin`.
    pub role: String,
    /// The committee the caller acts for: `suixian` or `committees/suixian`;
    /// `*` only for the `service` role.
    pub committee: String,
    /// For the `member` role: the member's resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// For the `handling_unit` role: the unit's resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub iss: String,
    /// One audience or several (RFC 7519 allows both).
    pub aud: Audience,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// A token's audience: one, or a list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Which committees a caller may act in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitteeScope {
    /// One committee (by id).
    One(String),
    /// Every committee: only services acting on their own behalf.
    All,
}

/// The verified caller of an RPC.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The token's subject.
    pub subject: String,
    /// The role it acts in.
    pub role: Role,
    /// The committees it may act in.
    pub scope: CommitteeScope,
    /// For members: the member's resource name.
    pub member: Option<String>,
    /// For handling units: the unit's resource name.
    pub unit: Option<String>,
    /// Where the call came from.
    pub peer: Option<SocketAddr>,
    /// The bearer token, passed on when this call calls another service.
    pub bearer: Arc<str>,
    /// The gRPC method being called (`/cppcc.members.v1.MemberService/GetMember`),
    /// for the audit log.
    pub method: Arc<str>,
    /// When the token expires (seconds since the epoch): long streams end then.
    pub expires_at: u64,
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

impl Actor {
    /// The service itself, acting on its own behalf (a consumer applying
    /// another service's events): the service role in every committee.
    /// `subject` and `method` name it in the audit log.
    pub fn internal(subject: &str, method: &str) -> Actor {
        Actor {
            subject: subject.to_owned(),
            role: Role::Service,
            scope: CommitteeScope::All,
            member: None,
            unit: None,
            peer: None,
            bearer: Arc::from(""),
            method: Arc::from(method),
            expires_at: u64::MAX,
        }
    }

    /// Whether the caller may act in the committee with this id.
    pub fn in_committee(&self, committee_id: &str) -> bool {
        match &self.scope {
            CommitteeScope::All => true,
            CommitteeScope::One(id) => id == committee_id,
        }
    }

    /// The caller's own committee id, if it has one.
    pub fn committee(&self) -> Option<&str> {
        match &self.scope {
            CommitteeScope::One(id) => Some(id),
            CommitteeScope::All => None,
        }
    }

    /// Whether the caller acts in one of `roles`.
    pub fn is(&self, roles: &[Role]) -> bool {
        roles.contains(&self.role)
    }

    /// `PERMISSION_DENIED` unless the caller acts in one of `roles`.
    pub fn require(&self, roles: &[Role], action: &str) -> Result<(), ServiceError> {
        if self.is(roles) {
            Ok(())
        } else {
            Err(ServiceError::permission_denied(format!(
                "the {} role may not {action}; it takes one of: {}",
                self.role,
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }

    /// The peer address as text, for the audit log.
    pub fn peer_text(&self) -> String {
        self.peer.map(|p| p.to_string()).unwrap_or_default()
    }
}

/// Reads the caller from a request (put there by the auth layer).
pub fn actor<T>(request: &tonic::Request<T>) -> Result<Actor, ServiceError> {
    request.extensions().get::<Actor>().cloned().ok_or_else(|| {
        ServiceError::unauthenticated("TOKEN_MISSING", "no caller identity on this request")
    })
}

/// Token verification settings shared by every binary.
#[derive(Clone, Debug, clap::Args)]
pub struct AuthArgs {
    /// Public keys that sign tokens (Ed25519 or RSA, PEM): each a file
    /// path or the PEM text itself, optionally `kid=` in front; repeat the
    /// flag or separate with commas.
    #[arg(
        long = "jwt-public-key",
        env = "CPPCC_JWT_PUBLIC_KEYS",
        value_delimiter = ','
    )]
    pub jwt_public_keys: Vec<String>,
    /// The issuer (`iss`) tokens must carry.
    #[arg(long, env = "CPPCC_JWT_ISSUER", default_value = "cppcc-dev")]
    pub jwt_issuer: String,
    /// The audience (`aud`) tokens must carry.
    #[arg(long, env = "CPPCC_JWT_AUDIENCE", default_value = "cppcc")]
    pub jwt_audience: String,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Config(String),
    #[error("{message}")]
    Rejected {
        /// Stable reason for the `ErrorInfo`.
        reason: &'static str,
        message: String,
    },
}

impl From<AuthError> for ServiceError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Rejected { reason, message } => {
                ServiceError::unauthenticated(reason, message)
            }
            AuthError::Config(m) => ServiceError::internal(m),
        }
    }
}

fn rejected(reason: &'static str, message: impl Into<String>) -> AuthError {
    AuthError::Rejected {
        reason,
        message: message.into(),
    }
}

/// Checks tokens against the configured keys, issuer and audience.
#[derive(Clone)]
pub struct TokenVerifier {
    /// Keys by `kid`; the key under `None` serves tokens without a `kid`.
    keys: HashMap<Option<String>, (DecodingKey, Algorithm)>,
    issuer: String,
    audience: String,
    /// Tokens already verified, by their text, until they expire: a caller
    /// sends the same token on every call, and checking its signature
    /// each time is most of what a cheap call costs.
    verified: Arc<Mutex<HashMap<Arc<str>, Actor>>>,
}

/// How many verified tokens are remembered before the memory is cleared.
const VERIFIED_KEPT: usize = 8192;

/// The seconds a token is taken past its `exp` (clocks differ).
const LEEWAY_SECS: u64 = 30;

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl TokenVerifier {
    /// Loads the keys named in `args`.
    pub fn from_args(args: &AuthArgs) -> Result<Self, AuthError> {
        let mut pems = Vec::new();
        for spec in args
            .jwt_public_keys
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            // A bare PEM has `=` in its base64, so only look for `kid=` before anything else.
            let (kid, source) = match spec.split_once('=') {
                Some((kid, rest)) if !spec.starts_with("-----") => {
                    (Some(kid.trim().to_owned()), rest.trim())
                }
                _ => (None, spec),
            };
            let pem = if source.starts_with("-----BEGIN") {
                source.as_bytes().to_vec()
            } else {
                std::fs::read(source).map_err(|e| {
                    AuthError::Config(format!("cannot read JWT public key {source}: {e}"))
                })?
            };
            pems.push((kid, pem));
        }
        if pems.is_empty() {
            return Err(AuthError::Config(
                "no JWT public key configured: set --jwt-public-key or CPPCC_JWT_PUBLIC_KEYS"
                    .into(),
            ));
        }
        TokenVerifier::from_pems(pems, &args.jwt_issuer, &args.jwt_audience)
    }

    /// Builds a verifier from PEM public keys, each with an optional `kid`.
    /// A single key also verifies tokens without a `kid`.
    pub fn from_pems(
        pems: Vec<(Option<String>, Vec<u8>)>,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AuthError> {
        let single = pems.len() == 1;
        let mut keys = HashMap::new();
        for (kid, pem) in pems {
            let key = match DecodingKey::from_ed_pem(&pem) {
                Ok(k) => (k, Algorithm::EdDSA),
                Err(_) => match DecodingKey::from_rsa_pem(&pem) {
                    Ok(k) => (k, Algorithm::RS256),
                    Err(_) => {
                        return Err(AuthError::Config(format!(
                            "JWT key {} is neither an Ed25519 nor an RSA public key in PEM",
                            kid.as_deref().unwrap_or("(no kid)")
                        )));
                    }
                },
            };
            if single && kid.is_some() {
                keys.insert(None, key.clone());
            }
            keys.insert(kid, key);
        }
        Ok(TokenVerifier {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            verified: Arc::default(),
        })
    }

    /// Verifies a bearer token and returns the caller it names. A token
    /// verified before is taken from memory until it expires.
    pub fn verify(&self, token: &str, peer: Option<SocketAddr>) -> Result<Actor, AuthError> {
        let remembered = self
            .verified
            .lock()
            .expect("not poisoned")
            .get(token)
            .cloned();
        if let Some(mut actor) = remembered {
            if now() <= actor.expires_at.saturating_add(LEEWAY_SECS) {
                actor.peer = peer;
                return Ok(actor);
            }
            self.verified.lock().expect("not poisoned").remove(token);
        }
        let actor = self.verify_signed(token, peer)?;
        let mut verified = self.verified.lock().expect("not poisoned");
        if verified.len() >= VERIFIED_KEPT {
            verified.clear();
        }
        verified.insert(actor.bearer.clone(), actor.clone());
        Ok(actor)
    }

    /// Verifies a token's signature and claims.
    fn verify_signed(&self, token: &str, peer: Option<SocketAddr>) -> Result<Actor, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| rejected("TOKEN_MALFORMED", "the bearer token is not a JWT"))?;
        let (key, alg) = self.keys.get(&header.kid).ok_or_else(|| {
            // The kid is the caller's text: shortened and printable only.
            let kid: String = header
                .kid
                .as_deref()
                .unwrap_or("(no kid)")
                .chars()
                .filter(|c| !c.is_control())
                .take(40)
                .collect();
            rejected(
                "TOKEN_KEY_UNKNOWN",
                format!("the token is signed with key {kid}, which this service does not trust"),
            )
        })?;
        let mut validation = Validation::new(*alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| match e.kind() {
                JwtErrorKind::ExpiredSignature => {
                    rejected("TOKEN_EXPIRED", "the token has expired")
                }
                JwtErrorKind::InvalidSignature | JwtErrorKind::InvalidAlgorithm => rejected(
                    "TOKEN_SIGNATURE_INVALID",
                    "the token's signature is not valid",
                ),
                JwtErrorKind::InvalidIssuer => rejected(
                    "TOKEN_ISSUER_INVALID",
                    format!("the token is not issued by `{}`", self.issuer),
                ),
                JwtErrorKind::InvalidAudience => rejected(
                    "TOKEN_AUDIENCE_INVALID",
                    format!("the token is not meant for `{}`", self.audience),
                ),
                JwtErrorKind::ImmatureSignature => {
                    rejected("TOKEN_NOT_YET_VALID", "the token is not valid yet")
                }
                JwtErrorKind::MissingRequiredClaim(c) => rejected(
                    "TOKEN_CLAIM_MISSING",
                    format!("the token has no `{c}` claim"),
                ),
                _ => rejected("TOKEN_MALFORMED", "the token's claims are not valid"),
            })?
            .claims;
        let role = Role::parse(&claims.role).ok_or_else(|| {
            rejected(
                "TOKEN_ROLE_UNKNOWN",
                format!("the token's role `{}` is not a cppcc role", claims.role),
            )
        })?;
        let scope = if claims.committee == "*" {
            if role != Role::Service {
                return Err(rejected(
                    "TOKEN_COMMITTEE_INVALID",
                    "only the service role may act for every committee",
                ));
            }
            CommitteeScope::All
        } else {
            let id = names::committee_id(&claims.committee)
                .or_else(|| {
                    names::is_committee_id(&claims.committee).then_some(claims.committee.as_str())
                })
                .ok_or_else(|| {
                    rejected(
                        "TOKEN_COMMITTEE_INVALID",
                        format!(
                            "the token's committee `{}` is not a committee id",
                            claims.committee
                        ),
                    )
                })?;
            CommitteeScope::One(id.to_owned())
        };
        Ok(Actor {
            subject: claims.sub,
            role,
            scope,
            member: claims.member,
            unit: claims.unit,
            peer,
            bearer: Arc::from(token),
            method: Arc::from(""),
            expires_at: claims.exp,
        })
    }
}

/// Mints tokens with a private key: development tokens (`cppcc token`),
/// test tokens, and a deployment's own service tokens.
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
    kid: Option<String>,
    issuer: String,
    audience: String,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// What a token says about its holder.
#[derive(Clone, Debug)]
pub struct TokenRequest<'a> {
    pub subject: &'a str,
    pub role: Role,
    /// A committee id, or `*` for the service role.
    pub committee: &'a str,
    pub member: Option<&'a str>,
    pub unit: Option<&'a str>,
    pub ttl: Duration,
}

impl TokenIssuer {
    /// An issuer from an Ed25519 private key in PKCS#8 PEM.
    pub fn from_ed_pem(
        pem: &[u8],
        kid: Option<String>,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AuthError> {
        let key = EncodingKey::from_ed_pem(pem).map_err(|e| {
            AuthError::Config(format!("the signing key is not an Ed25519 PKCS#8 PEM: {e}"))
        })?;
        Ok(TokenIssuer {
            key,
            kid,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// The issuer of a service's own tokens, from its `--service-key`
    /// (PEM text, or a file holding it), trusted as `auth` trusts keys.
    pub fn for_service(
        key: &secrecy::SecretString,
        kid: Option<String>,
        auth: &AuthArgs,
    ) -> Result<Self, AuthError> {
        use secrecy::ExposeSecret as _;
        let key = key.expose_secret().trim();
        let pem = if key.starts_with("-----BEGIN") {
            key.as_bytes().to_vec()
        } else {
            std::fs::read(key)
                .map_err(|e| AuthError::Config(format!("cannot read the service key {key}: {e}")))?
        };
        Self::from_ed_pem(&pem, kid, &auth.jwt_issuer, &auth.jwt_audience)
    }

    /// A short-lived token of the service role for every committee, as a
    /// service calls another on its own behalf.
    pub fn service_token(&self, subject: &str, ttl: Duration) -> String {
        self.issue(&TokenRequest {
            subject,
            role: Role::Service,
            committee: "*",
            member: None,
            unit: None,
            ttl,
        })
    }

    /// Signs a token.
    pub fn issue(&self, req: &TokenRequest<'_>) -> String {
        self.issue_at(req, now())
    }

    /// Signs a token as if issued at `iat` (seconds since the epoch).
    pub fn issue_at(&self, req: &TokenRequest<'_>, iat: u64) -> String {
        let claims = Claims {
            sub: req.subject.to_owned(),
            role: req.role.as_str().to_owned(),
            committee: req.committee.to_owned(),
            member: req.member.map(str::to_owned),
            unit: req.unit.map(str::to_owned),
            iss: self.issuer.clone(),
            aud: Audience::One(self.audience.clone()),
            exp: iat + req.ttl.as_secs(),
            iat: Some(iat),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, &claims, &self.key)
            .expect("signing with a loaded key cannot fail")
    }
}

/// A fresh Ed25519 key pair as (PKCS#8 private PEM, SPKI public PEM).
pub fn generate_ed25519_pem() -> (String, String) {
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use ed25519_dalek::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes as PKCS#8")
        .to_string();
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes as SPKI");
    (private, public)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (TokenIssuer, TokenVerifier) {
        let (private, public) = generate_ed25519_pem();
        let issuer =
            TokenIssuer::from_ed_pem(private.as_bytes(), Some("dev".into()), "iss", "aud").unwrap();
        let verifier = TokenVerifier::from_pems(
            vec![(Some("dev".into()), public.into_bytes())],
            "iss",
            "aud",
        )
        .unwrap();
        (issuer, verifier)
    }

    fn req(role: Role, committee: &str) -> TokenRequest<'_> {
        TokenRequest {
            subject: "u1",
            role,
            committee,
            member: None,
            unit: None,
            ttl: Duration::from_secs(600),
        }
    }

    fn reason(e: AuthError) -> &'static str {
        match e {
            AuthError::Rejected { reason, .. } => reason,
            AuthError::Config(m) => panic!("config error {m}"),
        }
    }

    #[test]
    fn a_good_token_names_the_caller() {
        let (issuer, verifier) = pair();
        let token = issuer.issue(&req(Role::Admin, "suixian"));
        let actor = verifier.verify(&token, None).unwrap();
        assert_eq!(actor.subject, "u1");
        assert_eq!(actor.role, Role::Admin);
        assert!(actor.in_committee("suixian"));
        assert!(!actor.in_committee("suizhou"));
        // A resource-name committee claim is accepted too.
        let token = issuer.issue(&req(Role::Staff, "committees/suixian"));
        assert_eq!(
            verifier.verify(&token, None).unwrap().committee(),
            Some("suixian")
        );
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let (issuer, verifier) = pair();
        let token = issuer.issue(&req(Role::Leader, "suixian"));
        let first: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let second: SocketAddr = "127.0.0.1:2".parse().unwrap();
        assert_eq!(
            verifier.verify(&token, Some(first)).unwrap().peer,
            Some(first)
        );
        assert_eq!(verifier.verified.lock().unwrap().len(), 1);
        let again = verifier.verify(&token, Some(second)).unwrap();
        assert_eq!((again.role, again.peer), (Role::Leader, Some(second)));
        // Clones share what they remember.
        assert_eq!(verifier.clone().verified.lock().unwrap().len(), 1);
        // Once past its expiry (and the leeway), a remembered token is
        // checked again, and refused.
        verifier
            .verified
            .lock()
            .unwrap()
            .get_mut(token.as_str())
            .unwrap()
            .expires_at = now() - LEEWAY_SECS - 1;
        let expired = issuer.issue_at(&req(Role::Leader, "suixian"), 1_000_000);
        let stale = verifier.verified.lock().unwrap()[token.as_str()].clone();
        verifier
            .verified
            .lock()
            .unwrap()
            .insert(Arc::from(expired.as_str()), stale);
        assert_eq!(
            reason(verifier.verify(&expired, None).unwrap_err()),
            "TOKEN_EXPIRED"
        );
        assert!(
            !verifier
                .verified
                .lock()
                .unwrap()
                .contains_key(expired.as_str())
        );
        // A forged token is never remembered.
        let (other, _) = pair();
        let forged = other.issue(&req(Role::Admin, "suixian"));
        assert!(verifier.verify(&forged, None).is_err());
        assert!(
            !verifier
                .verified
                .lock()
                .unwrap()
                .contains_key(forged.as_str())
        );
    }

    #[test]
    fn bad_tokens_are_refused_with_a_precise_reason() {
        let (issuer, verifier) = pair();
        let (other, _) = pair();
        let expired = issuer.issue_at(&req(Role::Admin, "suixian"), 1_000_000);
        assert_eq!(
            reason(verifier.verify(&expired, None).unwrap_err()),
            "TOKEN_EXPIRED"
        );
        let forged = other.issue(&req(Role::Admin, "suixian"));
        assert_eq!(
            reason(verifier.verify(&forged, None).unwrap_err()),
            "TOKEN_SIGNATURE_INVALID"
        );
        assert_eq!(
            reason(verifier.verify("not.a.jwt", None).unwrap_err()),
            "TOKEN_MALFORMED"
        );
        let mut claims_issuer = issuer.clone();
        claims_issuer.issuer = "evil".into();
        let t = claims_issuer.issue(&req(Role::Admin, "suixian"));
        assert_eq!(
            reason(verifier.verify(&t, None).unwrap_err()),
            "TOKEN_ISSUER_INVALID"
        );
        let mut aud = issuer.clone();
        aud.audience = "other".into();
        let t = aud.issue(&req(Role::Admin, "suixian"));
        assert_eq!(
            reason(verifier.verify(&t, None).unwrap_err()),
            "TOKEN_AUDIENCE_INVALID"
        );
        let mut kid = issuer.clone();
        kid.kid = Some("old".into());
        let t = kid.issue(&req(Role::Admin, "suixian"));
        assert_eq!(
            reason(verifier.verify(&t, None).unwrap_err()),
            "TOKEN_KEY_UNKNOWN"
        );
        let t = issuer.issue(&req(Role::Admin, "Not A Committee"));
        assert_eq!(
            reason(verifier.verify(&t, None).unwrap_err()),
            "TOKEN_COMMITTEE_INVALID"
        );
        let t = issuer.issue(&req(Role::Admin, "*"));
        assert_eq!(
            reason(verifier.verify(&t, None).unwrap_err()),
            "TOKEN_COMMITTEE_INVALID"
        );
        let t = issuer.issue(&req(Role::Service, "*"));
        assert_eq!(
            verifier.verify(&t, None).unwrap().scope,
            CommitteeScope::All
        );
    }

    #[test]
    fn audiences_may_be_a_list_and_iat_may_be_absent() {
        let (private, public) = generate_ed25519_pem();
        let verifier =
            TokenVerifier::from_pems(vec![(None, public.into_bytes())], "iss", "aud").unwrap();
        let key = EncodingKey::from_ed_pem(private.as_bytes()).unwrap();
        let claims = serde_json::json!({
            "sub": "u", "role": "staff", "committee": "suixian", "iss": "iss",
            "aud": ["other", "aud"], "exp": now() + 60,
        });
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &key).unwrap();
        assert_eq!(verifier.verify(&token, None).unwrap().role, Role::Staff);
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(Role::from_proto(role.to_proto()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn require_names_the_roles_that_may() {
        let (issuer, verifier) = pair();
        let actor = verifier
            .verify(&issuer.issue(&req(Role::Member, "suixian")), None)
            .unwrap();
        let e = actor
            .require(&[Role::Admin, Role::Staff], "create members")
            .unwrap_err();
        assert_eq!(
            e.message(),
            "the member role may not create members; it takes one of: admin, staff"
        );
    }
}
