package redis

// What the black-box tests reach inside the package.
var (
	Slot        = slot
	OwnSlots    = ownSlots
	NewSlotKeys = newSlotKeys
	Reason      = reason
	Protocol    = protocol
)

const MaxRedirects = maxRedirects

func (k *slotKeys) Within(lo, hi int) string { return k.within(lo, hi) }
