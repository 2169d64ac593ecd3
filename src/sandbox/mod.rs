//! An embedded Salesforce-compatible org (work in progress).
