//! Pre-flight validation: the checks a provider would make, run before sending, returning
//! the same verdict shape as a refused request so the log reads alike.
