/**
 * What a Marketplace product code may be (1 to 255 of letters, digits and `- / = : _ . @`, as the Marketplace APIs'
 * models say): the configuration checks its products by it, and the registration page the product its address names.
 */
export const PRODUCT_CODE_PATTERN = /^[-a-zA-Z0-9/=:_.@]{1,255}$/;
