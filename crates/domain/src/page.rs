//! Pagination: how many items one page of a listing holds.

/// The size of a page: 1–100 items, 20 unless asked. A size outside that range is clamped to
/// it, not refused — asking for 1,000 items gets the largest page there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageSize(u32);

impl PageSize {
    /// Items of a page when none is asked for.
    pub const DEFAULT: PageSize = PageSize(20);
    /// The largest page.
    pub const MAX: u32 = 100;

    /// The page size for a request: `requested` clamped to 1–100, or the default.
    pub fn new(requested: Option<u32>) -> Self {
        requested.map_or(Self::DEFAULT, |n| Self(n.clamp(1, Self::MAX)))
    }

    /// The number of items.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests;
